"""The whole platform on one machine: the six wamux services and the sandbox, as child processes.

Used by ``make demo`` (``python -m launcher.demo``) and by the end-to-end tests. It starts processes by module
name and talks to them only over HTTP and their logs; of their code it imports only their settings classes, to
hand each process only the ``WAMUX_*`` variables (and ``OPENAI_API_KEY``) that it reads: the router never sees
the Graph token or the OpenAI key. Each process's output goes to ``<log_dir>/<name>.log`` (and, with ``echo``, to
the console prefixed by its name).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiohttp

from launcher.environment import environment

SERVICES: dict[str, str] = {
    "sandbox": "sandbox",
    "gateway": "gateway",
    "router": "router",
    "ai-worker": "ai_worker",
    "sender": "sender",
    "billing": "billing",
    "directory": "directory",
}
# Readiness: the sandbox prints a line, the gateway answers /readyz, a worker has its consumer on its queue
# (asked of the broker, so it holds whatever the log level).
SANDBOX_READY = "sandbox_started"


class StackFailed(Exception):
    pass


@dataclass
class Stack:
    env: dict[str, str]
    log_dir: Path
    echo: bool = False
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    _ready: dict[str, asyncio.Event] = field(default_factory=dict)
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.env.get('WAMUX_GATEWAY_HOST', '127.0.0.1')}:{self.env.get('WAMUX_GATEWAY_PORT', '8080')}"

    async def start(self, names: list[str] | None = None, wait_s: float = 30.0) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names or list(SERVICES):
            await self.start_one(name)
        await self.wait_ready(names or list(SERVICES), wait_s)

    async def start_one(self, name: str) -> None:
        self._ready[name] = asyncio.Event()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            SERVICES[name],
            env=environment(name, dict(os.environ), self.env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        self._pumps.append(asyncio.create_task(self._pump(name, process)))

    async def _pump(self, name: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        with (self.log_dir / f"{name}.log").open("ab") as log:
            async for line in process.stdout:
                log.write(line)
                log.flush()
                if name == "sandbox" and SANDBOX_READY in line.decode(errors="replace"):
                    self._ready[name].set()
                if self.echo:
                    print(f"{name:>9} | {line.decode(errors='replace').rstrip()}", flush=True)

    async def wait_ready(self, names: list[str], wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        for name in names:
            while not await self._is_ready(name):
                if self.processes[name].returncode is not None:
                    raise StackFailed(f"{name} exited with {self.processes[name].returncode}: see {self.log(name)}")
                if time.monotonic() > deadline:
                    raise StackFailed(f"{name} not ready within {wait_s}s: see {self.log(name)}")
                await asyncio.sleep(0.1)

    async def _is_ready(self, name: str) -> bool:
        if name == "sandbox":
            return self._ready[name].is_set()
        if name == "gateway":
            with contextlib.suppress(aiohttp.ClientError):
                async with aiohttp.ClientSession() as session, session.get(f"{self.gateway_url}/readyz") as answer:
                    return answer.status == 200
            return False
        queue = f"{self.env.get('WAMUX_BROKER_PREFIX', 'wamux')}.{name}"
        amqp_url = self.env.get("WAMUX_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        with contextlib.suppress(aio_pika.exceptions.AMQPException, OSError):
            async with await aio_pika.connect(amqp_url) as connection, connection.channel() as channel:
                declared = await channel.declare_queue(queue, passive=True)
                return bool(declared.declaration_result.consumer_count)
        return False

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def kill(self, name: str) -> None:
        """SIGKILL: a crash, not a shutdown (nothing is drained)."""
        self.processes[name].kill()

    async def stop(self, grace_s: float = 15.0) -> dict[str, int | None]:
        for process in self.processes.values():
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), grace_s)
            except TimeoutError:
                process.kill()
                await process.wait()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        return {name: process.returncode for name, process in self.processes.items()}

    async def supervise(self) -> str:
        """Wait until any process exits; return its name."""
        waits = {asyncio.create_task(p.wait()): name for name, p in self.processes.items()}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[next(iter(done))]

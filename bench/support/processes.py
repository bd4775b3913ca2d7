"""Processes under test: each started fresh in a session of its own, its output in a log file, stopped by its pid.

Only the processes a benchmark started are ever signalled (by pid, never by name): other sessions' servers and
test runs share this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp


class ProcessFailed(Exception):
    pass


@dataclass
class Started:
    """One process under test: its name, the process, where its output goes."""

    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def failed(self, why: str) -> ProcessFailed:
        tail = self.log.read_text(errors="replace").splitlines()[-15:] if self.log.exists() else []
        return ProcessFailed(f"{self.name} (pid {self.pid}) {why}; last lines of {self.log}:\n" + "\n".join(tail))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_file(log_dir: Path, name: str) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}.log"


async def start_process(name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> Started:
    log = _log_file(log_dir, name)
    with open(log, "ab") as out:  # noqa: ASYNC230 (opened once per process start; the child keeps its descriptor)
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True
        )
    return Started(name, process, log)


async def stop_process(started: Started, grace_s: float = 10.0) -> int:
    """SIGTERM to this one process, SIGKILL after ``grace_s``; its exit status."""
    process = started.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode


async def wait_http(started: Started, url: str, timeout_s: float = 60.0) -> None:
    """Until ``url`` answers 200 to a GET; fails early when the process exits."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            if started.process.returncode is not None:
                raise started.failed(f"exited with {started.process.returncode} before {url} answered")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as answer:
                    if answer.status == 200:
                        return
            if time.monotonic() > deadline:
                raise started.failed(f"did not answer 200 at {url} within {timeout_s:.0f} s")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def running(
    name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path, ready_url: str, timeout_s: float = 60.0
) -> AsyncIterator[Started]:
    """A fresh process, ready at ``ready_url``, stopped on the way out whatever happens."""
    started = await start_process(name, argv, env, log_dir)
    try:
        await wait_http(started, ready_url, timeout_s)
        yield started
    finally:
        await stop_process(started)

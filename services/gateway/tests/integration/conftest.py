"""The gateway as a real process (``python -m gateway``) on a free port, configured from the test's settings.

Only the gateway runs: the test declares the topology itself (``infra``) and reads the router's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aiohttp
import pytest

from shared.messaging.runtime import Infrastructure
from shared.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class GatewayProcess:
    url: str
    host: str
    port: int
    pid: int
    log: Path

    def rss_bytes(self) -> int:
        """Resident memory of the process, from the kernel (VmRSS, in kB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for {self.pid}")


def _environment(settings: Settings, port: int, extra: dict[str, str]) -> dict[str, str]:
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("WAMUX_")}
    return {
        **inherited,
        "WAMUX_DATABASE_URL": settings.database_url.get_secret_value(),
        "WAMUX_AMQP_URL": settings.amqp_url.get_secret_value(),
        "WAMUX_BROKER_PREFIX": settings.broker_prefix,
        "WAMUX_APP_SECRET": settings.app_secret.get_secret_value(),
        "WAMUX_VERIFY_TOKEN": settings.verify_token.get_secret_value(),
        "WAMUX_GRAPH_TOKEN": settings.graph_token.get_secret_value(),
        "WAMUX_GATEWAY_HOST": "127.0.0.1",
        "WAMUX_GATEWAY_PORT": str(port),
        "WAMUX_LOG_LEVEL": "WARNING",
        **extra,
    }


async def _wait_ready(url: str, process: asyncio.subprocess.Process, log: Path, wait_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as answer:
                    if answer.status == 200:
                        return
            assert process.returncode is None, f"gateway exited with {process.returncode}: {log.read_text()[-2000:]}"
            assert loop.time() < deadline, f"gateway not ready within {wait_s}s: {log.read_text()[-2000:]}"
            await asyncio.sleep(0.1)


StartGateway = Callable[..., AbstractAsyncContextManager[GatewayProcess]]


@pytest.fixture
def start_gateway(infra: Infrastructure, tmp_path: Path) -> StartGateway:
    """``async with start_gateway(WAMUX_X="…") as gateway:`` runs the gateway with the test's settings plus those."""

    @asynccontextmanager
    async def running(**extra_env: str) -> AsyncIterator[GatewayProcess]:
        port = free_port()
        log = tmp_path / f"gateway-{port}.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "gateway",
                env=_environment(infra.settings, port, extra_env),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_ready(url, process, log, wait_s=30)
            yield GatewayProcess(url, "127.0.0.1", port, process.pid, log)
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()

    return running


StartDirectory = Callable[..., AbstractAsyncContextManager[None]]


async def _directory_consuming(
    infra: Infrastructure, process: asyncio.subprocess.Process, log: Path, wait_s: float
) -> None:
    """Bounded poll until the directory's queue has its consumer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        assert process.returncode is None, f"directory exited with {process.returncode}: {log.read_text()[-2000:]}"
        # The directory declares its queue at start-up: until then the passive declare closes the channel.
        with contextlib.suppress(aio_pika.exceptions.ChannelClosed):
            async with infra.connection.channel() as channel:
                queue = await channel.declare_queue(infra.names.queue("directory"), passive=True)
                if queue.declaration_result.consumer_count:
                    return
        assert loop.time() < deadline, f"directory not consuming within {wait_s}s: {log.read_text()[-2000:]}"
        await asyncio.sleep(0.1)


@pytest.fixture
def start_directory(infra: Infrastructure, tmp_path: Path) -> StartDirectory:
    """``async with start_directory(WAMUX_X="…"):`` runs ``python -m directory`` (the onboarding API's other half:
    it carries out the commands the gateway publishes) with the test's settings plus those."""

    @asynccontextmanager
    async def running(**extra_env: str) -> AsyncIterator[None]:
        log = tmp_path / "directory.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "directory",
                env=_environment(infra.settings, 0, extra_env),
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            await _directory_consuming(infra, process, log, wait_s=30)
            yield
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except TimeoutError:
                    process.kill()
                    await process.wait()

    return running

"""What the signup pages' tests run: the directory as a process (``python -m directory``, which stores the links
the pages serve), the gateway's app in this process on a real port (so a browser can reach it), and an onboarding
started the way a CRM starts one, by ``client.create`` and ``number.register`` on the broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared import signup_links
from shared.contracts.directory import ClientCreate, NumberRegister
from shared.contracts.envelope import wrap
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap

LINK_SECRET = "signup-pages-test-secret"
CREDENTIAL_KEYS = "k1:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="  # 32 bytes, base64: a test key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gateway_settings(base: GatewaySettings, *, port: int, graph_url: str) -> GatewaySettings:
    """The test's settings with the signup links signed, Meta's hosted signup and JS SDK at the emulator."""
    return base.model_copy(
        update={
            "signup_link_secret": SecretStr(LINK_SECRET),
            "public_base_url": f"http://127.0.0.1:{port}",
            "signup_base_url": graph_url,
            "signup_sdk_url": f"{graph_url}/sdk.js",  # the emulator's stand-in for Meta's JS SDK
            "graph_base_url": graph_url,
            "app_id": "1000000000000001",  # the emulator's (sandbox/config.py)
            "signup_config_id": "2000000000000002",
        }
    )


@asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The gateway's own app (``create_app``, signup pages included), serving on ``settings.public_base_url``'s port."""
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    port = int(settings.public_base_url.rsplit(":", 1)[1])
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield settings.public_base_url
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_directory(settings: GatewaySettings, infra: Infrastructure, log: Path) -> AsyncIterator[None]:
    """``python -m directory`` with the test's database, broker prefix and signing secret; ready once consuming."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("WAMUX_")}
    env = {
        **inherited,
        "WAMUX_DATABASE_URL": settings.database_url.get_secret_value(),
        "WAMUX_AMQP_URL": settings.amqp_url.get_secret_value(),
        "WAMUX_BROKER_PREFIX": settings.broker_prefix,
        "WAMUX_SIGNUP_LINK_SECRET": LINK_SECRET,
        "WAMUX_PUBLIC_BASE_URL": settings.public_base_url,
        "WAMUX_GRAPH_BASE_URL": settings.graph_base_url,
        "WAMUX_GRAPH_TOKEN": settings.graph_token.get_secret_value(),
        "WAMUX_APP_ID": settings.app_id,
        "WAMUX_APP_SECRET": settings.app_secret.get_secret_value(),
        "WAMUX_SIGNUP_CONFIG_ID": settings.signup_config_id,
        "WAMUX_CREDENTIAL_KEYS": CREDENTIAL_KEYS,
        "WAMUX_LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "directory", env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        await _consuming(infra, process, log)
        yield
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _consuming(infra: Infrastructure, process: asyncio.subprocess.Process, log: Path, wait_s: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        assert process.returncode is None, f"the directory exited: {log.read_text()[-3000:]}"
        with contextlib.suppress(Exception):
            async with infra.connection.channel() as channel:
                queue = await channel.declare_queue(infra.names.queue("directory"), passive=True)
                if queue.declaration_result.consumer_count:
                    return
        assert loop.time() < deadline, f"the directory is not consuming: {log.read_text()[-3000:]}"
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Onboarding:
    client_id: uuid.UUID
    onboarding_id: uuid.UUID
    link_id: uuid.UUID
    token: str
    phone_number: str


async def register_for_signup(
    infra: Infrastructure,
    tap: Tap,
    *,
    phone_number: str,
    language: str = "es",
    name: str = "Pizzería Don Test",
    coexistence: bool = False,
    link_expires_at: datetime | None = None,
) -> Onboarding:
    """A client and an onboarding of ``phone_number`` by signup, with its link: as a CRM would, then a bounded wait
    until the directory answered and stored the link."""
    client_id, onboarding_id, link_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    expires_at = (link_expires_at or datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0)
    publisher = infra.publisher
    await publisher.publish(wrap(ClientCreate(client_id=client_id, name=name, language=language), correlation_id="t"))
    await tap.wait_for("client.created", where=lambda m: m["data"]["client_id"] == str(client_id), timeout=20)
    register = NumberRegister(
        onboarding_id=onboarding_id,
        client_id=client_id,
        phone_number=phone_number,
        coexistence=coexistence,
        link_id=link_id,
        link_expires_at=expires_at,
    )
    await publisher.publish(wrap(register, correlation_id="t", tenant_id=client_id))
    await tap.wait_for(
        "number.onboarding_changed", where=lambda m: m["data"]["onboarding_id"] == str(onboarding_id), timeout=20
    )
    await wait_until(infra, "SELECT true FROM directory_read.signup_links WHERE id = $1", link_id)
    token = signup_links.sign(SecretStr(LINK_SECRET), link_id, expires_at)
    return Onboarding(client_id, onboarding_id, link_id, token, phone_number)


async def wait_until(infra: Infrastructure, query: str, *args: object, timeout: float = 15) -> None:
    """Bounded poll until ``query`` returns a true value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await infra.pool.fetchval(query, *args):
        assert loop.time() < deadline, f"not true within {timeout}s: {query} {args}"
        await asyncio.sleep(0.1)

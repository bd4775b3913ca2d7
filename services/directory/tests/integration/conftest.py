"""The directory as ``python -m directory`` builds it, on the real PostgreSQL and RabbitMQ: its handlers' Deps from
its own ``bootstrap()`` (settings class, publisher held to the directory's contract), and the whole service running
in this process for what only a consumer shows (malformed bodies, the alternate exchange, concurrent duplicates)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from directory.__main__ import ROLE, ROUTES, bootstrap
from directory.answers import Deps
from directory.settings import DirectorySettings
from directory.unreadable import reject_unreadable
from sandbox.config import SandboxSettings
from shared import secretbox
from shared.messaging.runtime import Infrastructure, infrastructure, run_worker
from shared.settings import Settings
from tests.support.sandbox import Sandbox

CREDENTIAL_KEYS = secretbox.new_key_setting("test1")
LINK_SECRET = "test-signup-link-secret"
MANUAL_WABA_ID = "900000000000001"


def directory_settings(infra: Infrastructure[Settings], sandbox: Sandbox, **extra: Any) -> DirectorySettings:
    """The directory configured as the demo configures it, against this test's emulator (its app, its tokens)."""
    common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
    common["prefetch"] = DirectorySettings.model_fields["prefetch"].default  # its own: its pool allows no more
    meta = SandboxSettings()
    configured: dict[str, Any] = {
        "graph_base_url": sandbox.graph_url,
        "graph_token": "test-graph-token",
        "app_id": meta.app_id,
        "app_secret": "test-app-secret",
        "signup_config_id": meta.signup_config_id,
        "credential_keys": CREDENTIAL_KEYS,
        "signup_link_secret": LINK_SECRET,
        "manual_waba_id": MANUAL_WABA_ID,
    }
    return DirectorySettings(**common, **(configured | extra))


@pytest.fixture
def directory_config() -> dict[str, Any]:
    """Settings a test gives the directory beyond the defaults (override this fixture in a module)."""
    return {}


@pytest.fixture
async def deps(
    infra: Infrastructure[Settings], sandbox: Sandbox, directory_config: dict[str, Any]
) -> AsyncIterator[Deps]:
    settings = directory_settings(infra, sandbox, **directory_config)
    async with infrastructure(settings, role=ROLE) as own, bootstrap(own) as value:
        yield value


@pytest.fixture
async def directory_service(
    infra: Infrastructure[Settings], sandbox: Sandbox, directory_config: dict[str, Any]
) -> AsyncIterator[None]:
    """``python -m directory``'s worker, running until the test ends."""
    stop = asyncio.Event()
    settings = directory_settings(infra, sandbox, **directory_config)
    task = asyncio.create_task(run_worker(settings, ROLE, ROUTES, bootstrap, stop=stop, unreadable=reject_unreadable))
    await _consuming(infra, task)
    yield
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)


async def _consuming(infra: Infrastructure[Settings], task: asyncio.Task[None], timeout: float = 10) -> None:
    """Bounded poll until both the directory's queue and the unrouted one have their consumer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        assert not task.done(), f"the directory stopped: {task.exception()!r}"
        async with infra.connection.channel() as channel:  # a new channel: a robust one caches passive answers
            counts = [
                (await channel.declare_queue(name, passive=True)).declaration_result.consumer_count
                for name in (infra.names.queue(ROLE), infra.names.unrouted)
            ]
        if all(counts):
            return
        assert loop.time() < deadline, "the directory is not consuming"
        await asyncio.sleep(0.05)

"""The directory as ``python -m directory`` builds it, on the real PostgreSQL and RabbitMQ: its handlers' Deps from
its own ``bootstrap()`` (settings class, publisher held to the directory's contract), and the whole service running
in this process for what only a consumer shows (malformed bodies, the alternate exchange, concurrent duplicates)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from directory.__main__ import ROLE, ROUTES, bootstrap
from directory.answers import Deps
from directory.settings import DirectorySettings
from directory.unreadable import reject_unreadable
from shared.messaging.runtime import Infrastructure, infrastructure, run_worker
from shared.settings import Settings


def directory_settings(infra: Infrastructure[Settings]) -> DirectorySettings:
    common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
    return DirectorySettings(**common)


@pytest.fixture
async def deps(infra: Infrastructure[Settings]) -> AsyncIterator[Deps]:
    async with infrastructure(directory_settings(infra), role=ROLE) as own, bootstrap(own) as value:
        yield value


@pytest.fixture
async def directory_service(infra: Infrastructure[Settings]) -> AsyncIterator[None]:
    """``python -m directory``'s worker, running until the test ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(directory_settings(infra), ROLE, ROUTES, bootstrap, stop=stop, unreadable=reject_unreadable)
    )
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

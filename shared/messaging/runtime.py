"""Running a consuming service: infrastructure up, consumer on, wait for a signal, drain, shut down.

Every worker's ``__main__`` is ``run_worker(settings, ROLE, ROUTES, bootstrap)``: the service supplies its
routing table and its composition root; the lifetimes of pool, connection and consumer live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from aio_pika.abc import AbstractRobustConnection

from shared import db
from shared.logging import configure_logging, get_logger
from shared.messaging import broker, topology
from shared.messaging.consumer import Consumer, Route
from shared.settings import Settings

log = get_logger(__name__)
D = TypeVar("D")


@dataclass(frozen=True)
class Infrastructure:
    settings: Settings
    pool: asyncpg.Pool
    connection: AbstractRobustConnection
    publisher: broker.Publisher
    names: topology.Topology  # the exchanges and queues under this deployment's prefix, built once


@asynccontextmanager
async def infrastructure(settings: Settings) -> AsyncIterator[Infrastructure]:
    async with db.pool(settings) as pool, broker.connect(settings) as connection:
        publisher = await broker.Publisher.open(connection, settings)
        yield Infrastructure(settings, pool, connection, publisher, topology.Topology(settings.broker_prefix))


@asynccontextmanager
async def every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> AsyncIterator[None]:
    """Run ``job`` every ``seconds`` in the background while the service runs (housekeeping, not messages)."""

    async def loop() -> None:
        while True:
            try:
                await job()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("job.failed", job=name, error=type(exc).__name__)
            await asyncio.sleep(seconds)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def serve(
    role: str,
    routes: Mapping[str, Route[D]],
    bootstrap: Callable[[Infrastructure], AbstractAsyncContextManager[D]],
) -> None:
    """A worker's ``main``: settings from the environment, JSON logs, consume until SIGTERM."""
    settings = Settings(service=role)
    configure_logging(settings.service, settings.log_level)
    asyncio.run(run_worker(settings, role, routes, bootstrap))


async def run_worker(
    settings: Settings,
    role: str,
    routes: Mapping[str, Route[D]],
    bootstrap: Callable[[Infrastructure], AbstractAsyncContextManager[D]],
    stop: asyncio.Event | None = None,
) -> None:
    stop = stop or stop_on_signals()
    async with infrastructure(settings) as infra, bootstrap(infra) as deps:
        consumer = Consumer(role, routes, deps, infra.publisher, infra.names)
        await consumer.start(infra.connection, settings.prefetch)
        log.info("service.started", queue=infra.names.queue(role))
        await stop.wait()
        log.info("service.stopping")
        await consumer.stop()
    log.info("service.stopped")

"""Running a consuming service: infrastructure up, consumer on, wait for a signal, drain, shut down.

Every worker's ``main`` is ``serve(ROLE, ROUTES, bootstrap, TheServiceSettings)``: the service supplies its
routing table, its composition root and its settings class; the lifetimes of pool, connection and consumer live
here. With ``batch=True`` the consumer carries out what the broker has delivered in batches (the routes that give a
``batch_effect``: :mod:`shared.messaging.batch`), up to ``settings.batch_max`` deliveries per transaction; with
``outbox=schema`` too, what they stage goes through that schema's outbox and is published after the commit; with
``overlapping=True`` up to half the pool's connections' worth of batches run at once (routes with a ``many`` handler
that calls outside: :class:`~shared.messaging.batch.Batching`). A
worker whose routes differ from its role's contract (``shared/contracts/roles.py``) does not start, and its
publisher refuses a type the role does not publish. Every service runs on :func:`event_loop`'s loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg
from aio_pika.abc import AbstractRobustConnection

from shared import db
from shared.contracts import roles as contract
from shared.logging import configure_logging, get_logger
from shared.messaging import broker, topology
from shared.messaging.batch import Batching
from shared.messaging.consumer import Consumer, Route, Unreadable
from shared.settings import Settings

log = get_logger(__name__)
D = TypeVar("D")
S = TypeVar("S", bound=Settings)
S_co = TypeVar("S_co", bound=Settings, covariant=True)


@dataclass(frozen=True)
class Infrastructure(Generic[S_co]):
    settings: S_co
    pool: asyncpg.Pool
    connection: AbstractRobustConnection
    publisher: broker.Publisher  # checked against ``role``'s contract when there is one
    names: topology.Topology  # the exchanges and queues under this deployment's prefix, built once
    role: str | None = None


@asynccontextmanager
async def infrastructure(
    settings: S, role: str | None = None, *, generic_plans: bool = False
) -> AsyncIterator[Infrastructure[S]]:
    """Pool, connection and publisher; with a ``role``, the publisher keeps to that role's contract;
    ``generic_plans``: the pool's (:func:`shared.db.pool`)."""
    names = topology.Topology(settings.broker_prefix)
    async with db.pool(settings, generic_plans=generic_plans) as pool, broker.connect(settings, names) as connection:
        publisher = await broker.Publisher.open(connection, settings, names=names, role=role)
        yield Infrastructure(settings, pool, connection, publisher, names, role)


@asynccontextmanager
async def every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> AsyncIterator[None]:
    """Run ``job`` every ``seconds`` in the background while the service runs (housekeeping, not messages)."""

    async def loop() -> None:
        while True:
            try:
                await job()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("job.failed", job=name, error=type(exc).__name__)
            except contract.ContractViolation as exc:  # a bug, said every round rather than ending the job
                log.error("job.failed", job=name, error=str(exc))
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


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's where it is installed (not on Windows): a delivery's socket writes and reads (PostgreSQL, the broker,
    HTTP) go through its transports in C rather than asyncio's in Python. Profiled under the pipeline, the
    router and billing spent about a third of their busy time in asyncio's socket writes."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def serve(
    role: str,
    routes: Mapping[str, Route[D]],
    bootstrap: Callable[[Infrastructure[S]], AbstractAsyncContextManager[D]],
    settings_class: type[S],
    unreadable: Callable[[Unreadable, D], Awaitable[None]] | None = None,
    batch: bool = False,
    outbox: str | None = None,
    generic_plans: bool = False,
    overlapping: bool = False,
) -> None:
    """A worker's ``main``: its settings from the environment, JSON logs, consume until SIGTERM. ``unreadable``
    answers what the routes cannot take (else it is dead-lettered: :mod:`shared.messaging.consumer`);
    ``generic_plans``: its pool's (:func:`shared.db.pool`)."""
    settings = settings_class(service=role)
    configure_logging(settings.service, settings.log_level)
    with asyncio.Runner(loop_factory=event_loop) as runner:
        runner.run(
            run_worker(
                settings,
                role,
                routes,
                bootstrap,
                unreadable=unreadable,
                batch=batch,
                outbox=outbox,
                generic_plans=generic_plans,
                overlapping=overlapping,
            )
        )


async def run_worker(
    settings: S,
    role: str,
    routes: Mapping[str, Route[D]],
    bootstrap: Callable[[Infrastructure[S]], AbstractAsyncContextManager[D]],
    stop: asyncio.Event | None = None,
    unreadable: Callable[[Unreadable, D], Awaitable[None]] | None = None,
    batch: bool = False,
    outbox: str | None = None,
    generic_plans: bool = False,
    overlapping: bool = False,
) -> None:
    contract.check_routes(role, routes)  # before connecting: a worker that breaks its contract never starts
    stop = stop or stop_on_signals()
    async with infrastructure(settings, role, generic_plans=generic_plans) as infra, bootstrap(infra) as deps:
        consumer = consuming(
            infra, role, routes, deps, unreadable=unreadable, batch=batch, outbox=outbox, overlapping=overlapping
        )
        async with consumer:
            loop = type(asyncio.get_running_loop()).__module__
            log.info("service.started", queue=infra.names.queue(role), loop=loop)
            await stop.wait()
            log.info("service.stopping")
    log.info("service.stopped")


@asynccontextmanager
async def consuming(
    infra: Infrastructure[S],
    role: str,
    routes: Mapping[str, Route[D]],
    deps: D,
    unreadable: Callable[[Unreadable, D], Awaitable[None]] | None = None,
    batch: bool = False,
    outbox: str | None = None,
    overlapping: bool = False,
) -> AsyncIterator[Consumer[D]]:
    """The role's consumer, started as a worker starts it (batches of up to ``batch_max``, twice that prefetched;
    ``overlapping``: as many at once as half the pool's connections, each batch holding one while the rest serve
    its deliveries' one-at-a-time turns), stopped on the way out: what ``run_worker`` serves, and what a test of a
    worker drives."""
    settings = infra.settings
    batching = None
    if batch:
        at_once = max(1, settings.db_pool_max // 2) if overlapping else 1
        batching = Batching(infra.pool, settings.batch_max, outbox, at_once)
    consumer = Consumer(role, routes, deps, infra.publisher, infra.names, unreadable=unreadable, batching=batching)
    await consumer.start(infra.connection, 2 * settings.batch_max if batch else settings.prefetch)
    try:
        yield consumer
    finally:
        await consumer.stop()

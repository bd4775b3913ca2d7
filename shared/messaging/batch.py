"""Batches: what the broker has delivered, carried out in one PostgreSQL transaction with one round of confirms.

A route that gives a ``batch_effect`` — ``async def effect(envelope, deps, conn, out) -> None`` — lets a batching
consumer (:class:`shared.messaging.consumer.Consumer` with :class:`Batching`) run it beside the effects of the
other deliveries at hand, in one transaction, in arrival order (each effect sees the rows of the ones before it,
but for what they left to the batch's end: :meth:`Outgoing.together`),
staging what it wants published with ``out.publish(envelope)``. An effect touches only its transaction and ``out``:
it may be run again (below), so it calls nothing outside. Then everything staged is
published at once, every publish confirmed, *before* the commit — derived envelope ids make the rare double
publish after a crash between the two a duplicate consumers drop — and the transaction commits. Only then are
the deliveries acked. When an effect raises, the transaction is rolled back and the batch run again with a
savepoint per effect, so the one that raised is undone alone and gets its own verdict while its neighbours commit
(savepoints only then: two round trips per delivery cost 10-25 % of billing's batch when every effect succeeds). A
batch that fails as a whole (publish, commit, deadlock, a lost connection) is redone one delivery at a time.
With ``Batching(..., outbox=schema)`` the staged envelopes of every effect that succeeded go instead into
``<schema>.outbox`` in the same transaction (one executemany), and are published concurrently, confirmed, and
deleted once it has committed (:func:`shared.messaging.outbox.flush`), while the next batch is carried out
(:class:`shared.messaging.outbox.Flushes`): a consumer never hears of a row it cannot read yet, and what the
broker refuses then is left to the outbox's relay. :func:`effect_through_outbox` writes
such an effect once for both ways (a handler of its own, or a route's ``batch_effect``). An effect that wants a
part of itself undone alone (a row PostgreSQL refuses, its neighbours kept) wraps it in ``out.savepoint(conn)``.
An effect can do a part of its work for the whole batch in one statement first (:class:`Prepares`: the inbox's
records of a batch's envelopes), or last (:meth:`Outgoing.together`: the router's messages and statuses of a
batch's webhooks).
This module holds the transaction; the ack policy stays in the consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

import asyncpg
from aio_pika.abc import AbstractIncomingMessage

from shared.contracts.envelope import Envelope, Payload
from shared.logging import bind_context, get_logger
from shared.messaging import outbox
from shared.messaging.broker import Publisher
from shared.messaging.outbox import Flushes

log = get_logger(__name__)
D = TypeVar("D")
M = TypeVar("M", bound=Payload)
T = TypeVar("T")

# What ends the whole transaction rather than one effect: the connection, a deadlock or serialisation failure
# (PostgreSQL aborts the transaction's lock state, and a neighbour may be the cause), a timeout.
_WHOLE_BATCH = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.TransactionRollbackError, OSError)


class SavepointWanted(Exception):
    """A part of an effect failed in a batch's first pass, which has no savepoints: the batch runs again with them."""


Finisher = Callable[[asyncpg.Connection], Awaitable[None]]


@dataclass
class Outgoing:
    """What one effect wants published: sent with the batch's round of confirms (before its commit, or after it
    through an outbox). ``savepoints`` is False only in a batch's first pass."""

    envelopes: list[Envelope[Any]] = field(default_factory=list)
    savepoints: bool = True
    # What the effects of one transaction may remember of what they read in it (the router's numbers: one lookup
    # per batch, not per webhook). Shared by every effect of a batch; it never outlives its transaction.
    memo: dict[str, Any] = field(default_factory=dict)
    # What the batch's first pass runs once every effect has run (:meth:`at_end`), shared like ``memo``.
    ends: dict[Hashable, Finisher] = field(default_factory=dict)

    def publish(self, envelope: Envelope[Any]) -> None:
        self.envelopes.append(envelope)

    @property
    def can_defer(self) -> bool:
        """Whether :meth:`at_end` may be used: only in a batch's first pass, which any failure undoes whole."""
        return not self.savepoints

    def at_end(self, key: Hashable, finish: Finisher) -> None:
        """Run ``finish(conn)`` once every effect of the batch has run, before its publishes are staged: a part of
        several effects' work done in one statement for all (the effects leave what it needs in ``memo``, with
        their ``Outgoing`` to publish on). Once per ``key``, the first registration standing. Only where
        :attr:`can_defer`; a failure of ``finish`` fails as the effects' would: the batch runs again with
        savepoints, where each effect does that part alone (or, for a lost connection, a deadlock or a timeout,
        one delivery at a time)."""
        if not self.can_defer:
            raise RuntimeError("at_end is only for a batch's first pass: check can_defer")
        self.ends.setdefault(key, finish)

    async def together(
        self,
        conn: asyncpg.Connection,
        key: str,
        store: Callable[[asyncpg.Connection, list[T]], Awaitable[None]],
        items: list[T],
    ) -> None:
        """``store(conn, items)``: at once, or in a batch's first pass with every other effect's items under ``key``
        in one call at the batch's end (:meth:`at_end`), in the effects' order. The batch's list so far is
        ``memo[key]`` (a row that must follow them may store them first: ``store(conn, list)``, then clear it)."""
        if not items:
            return
        if not self.can_defer:
            return await store(conn, items)
        collected: list[T] | None = self.memo.get(key)
        if collected is None:
            collected = self.memo[key] = []
            batch_items = collected

            async def store_collected(conn: asyncpg.Connection) -> None:
                if batch_items:
                    await store(conn, batch_items)

            self.at_end(key, store_collected)
        collected.extend(items)

    @asynccontextmanager
    async def savepoint(self, conn: asyncpg.Connection) -> AsyncIterator[None]:
        """A part of the effect that may fail alone: undone with what it staged, the effect going on. In a batch's
        first pass it costs no round trip: a failure there raises :class:`SavepointWanted` instead (not caught by
        the effect's ``except``), and the batch is run again with savepoints, where this one is real."""
        staged = len(self.envelopes)
        try:
            if not self.savepoints:
                yield
            else:
                async with conn.transaction():
                    yield
        except Exception as exc:
            del self.envelopes[staged:]
            if self.savepoints or isinstance(exc, _WHOLE_BATCH):
                raise
            raise SavepointWanted(f"{type(exc).__name__}: {exc}") from exc


BatchEffect = Callable[[Envelope[Any], D, asyncpg.Connection, Outgoing], Awaitable[None]]


@dataclass(frozen=True)
class Batching:
    """A consumer takes up to ``max_size`` deliveries at a time and carries them out in ``pool``'s transactions;
    with ``outbox`` (a schema with an outbox table) what they stage is published after the commit, through it.
    ``overlapping`` batches (at most that many at once, each delivery acked alone) are for routes whose handler
    takes several deliveries and calls outside (the ai-worker's model), never for ``batch_effect`` routes, whose
    batches follow one another."""

    pool: asyncpg.Pool
    max_size: int
    outbox: str | None = None
    overlapping: int = 1
    flushes: Flushes = field(default_factory=Flushes, compare=False)  # an outbox's, after each commit


@dataclass
class Item:
    """One delivery of a batch: its envelope, its effect, and how that effect went."""

    message: AbstractIncomingMessage
    envelope: Envelope[Any]
    effect: BatchEffect[Any]
    out: Outgoing = field(default_factory=Outgoing)
    failure: Exception | None = None


class BatchFailed(Exception):
    """The batch as a whole could not commit: its deliveries are redone one at a time."""


class _EffectRaised(Exception):
    """An effect raised in the pass without savepoints: roll back, run the batch again with them."""


async def publish_all(publisher: Publisher, envelopes: Sequence[Envelope[Any]]) -> None:
    """Publish concurrently and wait for every confirm; the first failure is raised once all have settled."""
    results = await asyncio.gather(*(publisher.publish(e) for e in envelopes), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def carry_out(items: Sequence[Item], deps: Any, batching: Batching, publisher: Publisher) -> None:
    """Every item's effect in one transaction; staged envelopes published (confirmed) before the commit, or staged in
    the outbox and flushed after it. An item whose effect raised keeps its ``failure`` and nothing of its effect;
    :class:`BatchFailed` when nothing committed."""
    try:
        try:
            staged = await _transaction(items, deps, batching, publisher, savepoints=False)
        except _EffectRaised:
            log.info("batch.again_with_savepoints", deliveries=len(items))
            staged = await _transaction(items, deps, batching, publisher, savepoints=True)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise BatchFailed(f"{type(exc).__name__}: {exc}") from exc
    if batching.outbox is not None:
        await batching.flushes.after_commit(batching.pool, publisher, batching.outbox, staged)


async def _transaction(
    items: Sequence[Item], deps: Any, batching: Batching, publisher: Publisher, *, savepoints: bool
) -> list[outbox.Staged]:
    """The batch's transaction; what it staged in the outbox (nothing without one: published before the commit)."""
    memo: dict[str, Any] = {}
    ends: dict[Hashable, Finisher] = {}
    for item in items:
        item.out, item.failure = Outgoing(savepoints=savepoints, memo=memo, ends=ends), None
    async with batching.pool.acquire() as conn, conn.transaction():
        if not savepoints:
            await _prepare(items, conn, memo)
        for item in items:
            await _effect(item, deps, conn, savepoints)
        await _finish(ends, conn)
        envelopes = [e for item in items if item.failure is None for e in item.out.envelopes]
        if batching.outbox is None:
            await publish_all(publisher, envelopes)
            return []
        return await outbox.stage(conn, batching.outbox, envelopes)


class Prepares(Protocol):
    """A batch effect that does a part of its work for all of its batch's deliveries at once, before any effect
    runs (one statement for the batch rather than one per delivery): the effects with the same ``prepare_key``
    share one ``prepare``, given each of their deliveries' envelope with its effect, and the transaction's memo
    to leave the outcome in. Only in a batch's first pass, which any failure undoes whole: in the pass with
    savepoints each effect does that part alone, inside its own savepoint."""

    @property
    def prepare_key(self) -> Hashable: ...

    async def prepare(
        self, conn: asyncpg.Connection, batch: Sequence[tuple[Envelope[Any], Any]], memo: dict[str, Any]
    ) -> None: ...


async def _prepare(items: Sequence[Item], conn: asyncpg.Connection, memo: dict[str, Any]) -> None:
    shared: dict[Hashable, tuple[Prepares, list[tuple[Envelope[Any], Any]]]] = {}
    for item in items:
        key = getattr(item.effect, "prepare_key", None)
        if key is not None:
            shared.setdefault(key, (cast(Prepares, item.effect), []))[1].append((item.envelope, item.effect))
    for preparer, batch in shared.values():
        await preparer.prepare(conn, batch, memo)


async def _finish(ends: dict[Hashable, Finisher], conn: asyncpg.Connection) -> None:
    for finish in ends.values():
        try:
            await finish(conn)
        except _WHOLE_BATCH:
            raise
        except Exception as exc:  # whose part failed is found in the pass with savepoints, where each does its own
            raise _EffectRaised from exc


async def _effect(item: Item, deps: Any, conn: asyncpg.Connection, savepoint: bool) -> None:
    header = item.envelope
    with bind_context(correlation_id=header.correlation_id, tenant_id=header.tenant_id, message_type=header.type):
        try:
            if not savepoint:
                return await item.effect(item.envelope, deps, conn, item.out)
            async with conn.transaction():  # a savepoint: a failure undoes this effect only
                await item.effect(item.envelope, deps, conn, item.out)
        except _WHOLE_BATCH:
            raise
        except Exception as exc:
            if not savepoint:
                raise _EffectRaised from exc
            item.failure, item.out = exc, Outgoing(memo=item.out.memo)


async def carry_out_alone(item: Item, deps: Any, batching: Batching, publisher: Publisher) -> None:
    """One item in a transaction of its own, as a one-by-one handler would: raises what its effect raised."""
    item.out, item.failure = Outgoing(), None
    if batching.outbox is not None:
        return await _alone_through_outbox(item.effect, item.envelope, deps, batching.pool, publisher, batching.outbox)
    async with batching.pool.acquire() as conn, conn.transaction():
        await item.effect(item.envelope, deps, conn, item.out)
        await publish_all(publisher, item.out.envelopes)


async def _alone_through_outbox(
    effect: BatchEffect[Any], envelope: Envelope[Any], deps: Any, pool: asyncpg.Pool, publisher: Publisher, schema: str
) -> None:
    async with outbox.transaction(pool, publisher, schema) as tx:
        out = Outgoing()
        await effect(envelope, deps, tx.conn, out)
        await tx.stage(out.envelopes)


class HasPoolAndPublisher(Protocol):
    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def publisher(self) -> Publisher: ...


DP = TypeVar("DP", bound=HasPoolAndPublisher)


@dataclass(frozen=True)
class ThroughOutbox(Generic[M, DP]):
    """An effect ``(envelope, deps, conn, out)`` whose staged envelopes are published after its commit, through
    ``<schema>.outbox``: call it as the handler ``(envelope, deps)`` (a transaction of its own), or give
    :attr:`batch_effect` to the route of a consumer batching with ``outbox=schema``."""

    schema: str
    batch_effect: Callable[[Envelope[M], DP, asyncpg.Connection, Outgoing], Awaitable[None]]

    async def __call__(self, envelope: Envelope[M], deps: DP) -> None:
        await _alone_through_outbox(self.batch_effect, envelope, deps, deps.pool, deps.publisher, self.schema)


def effect_through_outbox(
    schema: str,
) -> Callable[[Callable[[Envelope[M], DP, asyncpg.Connection, Outgoing], Awaitable[None]]], ThroughOutbox[M, DP]]:
    def decorate(
        effect: Callable[[Envelope[M], DP, asyncpg.Connection, Outgoing], Awaitable[None]],
    ) -> ThroughOutbox[M, DP]:
        return ThroughOutbox(schema, effect)

    return decorate


class Deliveries:
    """Deliveries waiting for the next batch, in arrival order."""

    def __init__(self) -> None:
        self._waiting: list[AbstractIncomingMessage] = []
        self._arrived = asyncio.Event()

    def put(self, message: AbstractIncomingMessage) -> None:
        self._waiting.append(message)
        self._arrived.set()

    async def take(self, most: int) -> list[AbstractIncomingMessage]:
        """At least one delivery, and those already received with it: no wait beyond a few turns of the event
        loop, in which the channel hands over the frames it has already read (each delivery comes through two
        tasks of aiormq's and aio-pika's), so a lone message is not delayed at low load."""
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        quiet = 0
        while len(self._waiting) < most and quiet < 3:
            before = len(self._waiting)
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(self._waiting) == before else 0
        batch, self._waiting = self._waiting[:most], self._waiting[most:]
        return batch

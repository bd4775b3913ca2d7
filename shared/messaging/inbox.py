"""The inbox: the envelope ids a consumer has carried out, recorded in the same transaction as their effect, so a
redelivered envelope changes nothing (``<schema>.inbox``: envelope_id, processed_at).

:func:`once_per_envelope` is the opening every such handler shares: one transaction, the envelope's record, the
effect only the first time. :func:`effect_per_envelope` is the same opening for an effect that stages what it
publishes (``out.publish``), written once for both ways of running it: as a one-by-one handler (its own
transaction, its publishes confirmed before the commit) and as a route's ``batch_effect`` (a savepoint in a
batch's transaction: :mod:`shared.messaging.batch`). :func:`forget_old` drops records past a service's retention
(run from its housekeeping); an envelope replayed after that is carried out again.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from shared.contracts.envelope import Envelope, Payload
from shared.logging import get_logger
from shared.messaging.batch import Outgoing, publish_all
from shared.messaging.broker import Publisher

_SCHEMAS = frozenset({"billing", "directory"})  # services whose schema has an inbox table (0004, 0017)
M = TypeVar("M", bound=Payload)
log = get_logger(__name__)


class HasPool(Protocol):
    @property
    def pool(self) -> asyncpg.Pool: ...


class HasPoolAndPublisher(HasPool, Protocol):
    @property
    def publisher(self) -> Publisher: ...


D = TypeVar("D", bound=HasPool)
DP = TypeVar("DP", bound=HasPoolAndPublisher)


def _table(schema: str) -> str:
    # The schema is a code constant, never input: checked against the known ones so SQL text stays ours.
    if schema not in _SCHEMAS:
        raise ValueError(f"no inbox in schema {schema!r}")
    return f"{schema}.inbox"


async def first_time(conn: asyncpg.Connection, schema: str, envelope_id: uuid.UUID) -> bool:
    inserted = await conn.fetchval(
        f"INSERT INTO {_table(schema)} (envelope_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true",  # noqa: S608
        envelope_id,
    )
    return bool(inserted)


async def forget_old(pool: asyncpg.Pool, schema: str, retention_days: int) -> int:
    deleted = await pool.execute(
        f"DELETE FROM {_table(schema)} WHERE processed_at < now() - make_interval(days => $1)",  # noqa: S608
        retention_days,
    )
    return int(deleted.split()[-1])


def once_per_envelope(
    schema: str,
) -> Callable[
    [Callable[[Envelope[M], D, asyncpg.Connection], Awaitable[None]]], Callable[[Envelope[M], D], Awaitable[None]]
]:
    """The handler ``(envelope, deps)`` that runs ``effect(envelope, deps, conn)`` in one transaction with the
    envelope's record in ``<schema>.inbox``, and not at all for an envelope already carried out."""
    _table(schema)

    def decorate(
        effect: Callable[[Envelope[M], D, asyncpg.Connection], Awaitable[None]],
    ) -> Callable[[Envelope[M], D], Awaitable[None]]:
        @functools.wraps(effect)
        async def handler(envelope: Envelope[M], deps: D) -> None:
            async with deps.pool.acquire() as conn, conn.transaction():
                if not await first_time(conn, schema, envelope.id):
                    log.info("envelope.duplicate", envelope_id=str(envelope.id), message_type=envelope.type)
                    return
                await effect(envelope, deps, conn)

        return handler

    return decorate


@dataclass(frozen=True)
class OncePerEnvelope(Generic[M, DP]):
    """An effect ``(envelope, deps, conn, out)`` carried out once per envelope id, either way: call it as the
    handler ``(envelope, deps)``, or give :attr:`batch_effect` to the route for a batching consumer."""

    schema: str
    effect: Callable[[Envelope[M], DP, asyncpg.Connection, Outgoing], Awaitable[None]]
    only_if: Callable[[Envelope[M]], bool]

    async def __call__(self, envelope: Envelope[M], deps: DP) -> None:
        if not self.only_if(envelope):
            return
        async with deps.pool.acquire() as conn, conn.transaction():
            out = Outgoing()
            await self._carry_out(envelope, deps, conn, out)
            await publish_all(deps.publisher, out.envelopes)

    @property
    def batch_effect(self) -> BatchRecorded[M, DP]:
        """Inside the caller's transaction: the envelope's record, then the effect, unless it was carried out."""
        return BatchRecorded(self)

    async def _carry_out(self, envelope: Envelope[M], deps: DP, conn: asyncpg.Connection, out: Outgoing) -> None:
        if not self.only_if(envelope):
            return
        if not await _first_time_in(conn, self.schema, envelope.id, out):
            log.info("envelope.duplicate", envelope_id=str(envelope.id), message_type=envelope.type)
            return
        await self.effect(envelope, deps, conn, out)


@dataclass(frozen=True)
class BatchRecorded(Generic[M, DP]):
    """:attr:`OncePerEnvelope.batch_effect`: in a batch's first pass the records of all its envelopes (every inbox
    effect's, of one schema) are written with one statement before the effects run
    (:class:`shared.messaging.batch.Prepares`), not one per delivery."""

    once: OncePerEnvelope[M, DP]

    async def __call__(self, envelope: Envelope[M], deps: DP, conn: asyncpg.Connection, out: Outgoing) -> None:
        await self.once._carry_out(envelope, deps, conn, out)

    @property
    def prepare_key(self) -> str:
        return _claims_key(self.once.schema)

    async def prepare(
        self, conn: asyncpg.Connection, batch: Sequence[tuple[Envelope[Any], Any]], memo: dict[str, Any]
    ) -> None:
        asked = [e.id for e, effect in batch if isinstance(effect, BatchRecorded) and effect.once.only_if(e)]
        if not asked:  # nothing of this batch to record (a batch of statuses billing does not count)
            return
        inserted = await conn.fetch(
            f"INSERT INTO {_table(self.once.schema)} (envelope_id) SELECT DISTINCT unnest($1::uuid[])"
            " ON CONFLICT DO NOTHING RETURNING envelope_id",
            asked,
        )
        memo[self.prepare_key] = _Claims(set(asked), {r["envelope_id"] for r in inserted})


@dataclass
class _Claims:
    """A batch's inbox records written ahead: the envelope ids asked for, and those that were new (each taken by
    the first of its deliveries: the same envelope twice in one batch is carried out once)."""

    asked: set[uuid.UUID]
    new: set[uuid.UUID]


def _claims_key(schema: str) -> str:
    return f"inbox.{schema}"


async def _first_time_in(conn: asyncpg.Connection, schema: str, envelope_id: uuid.UUID, out: Outgoing) -> bool:
    claims = out.memo.get(_claims_key(schema))
    if out.savepoints or not isinstance(claims, _Claims) or envelope_id not in claims.asked:
        return await first_time(conn, schema, envelope_id)
    if envelope_id in claims.new:
        claims.new.discard(envelope_id)
        return True
    return False


def effect_per_envelope(
    schema: str, *, only_if: Callable[[Envelope[M]], bool] = lambda _: True
) -> Callable[[Callable[[Envelope[M], DP, asyncpg.Connection, Outgoing], Awaitable[None]]], OncePerEnvelope[M, DP]]:
    """:func:`once_per_envelope` for an effect that stages its publishes; an envelope ``only_if`` refuses is
    neither recorded nor carried out (nothing in it to count)."""
    _table(schema)

    def decorate(
        effect: Callable[[Envelope[M], DP, asyncpg.Connection, Outgoing], Awaitable[None]],
    ) -> OncePerEnvelope[M, DP]:
        return OncePerEnvelope(schema, effect, only_if)

    return decorate

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

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
            await self.batch_effect(envelope, deps, conn, out)
            await publish_all(deps.publisher, out.envelopes)

    async def batch_effect(self, envelope: Envelope[M], deps: DP, conn: asyncpg.Connection, out: Outgoing) -> None:
        """Inside the caller's transaction: the envelope's record, then the effect, unless it was carried out."""
        if not self.only_if(envelope):
            return
        if not await first_time(conn, self.schema, envelope.id):
            log.info("envelope.duplicate", envelope_id=str(envelope.id), message_type=envelope.type)
            return
        await self.effect(envelope, deps, conn, out)


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

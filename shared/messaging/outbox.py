"""Transactional outbox: events are written in the same transaction as the effect, published after it commits.

Publishing before the commit (the simpler way) lets a consumer receive an event whose rows it cannot see yet;
publishing after it without an outbox loses the event if the process dies in between. Here the handler stages
its envelopes in ``<schema>.outbox`` inside its transaction, then :func:`flush` publishes them with confirms and
deletes them (:func:`transaction` is that stage → commit → flush in one ``async with``); whatever a crash or a
broker outage leaves behind, :func:`relaying` (a background task of the same service, safe with many replicas)
publishes later. Envelope ids are derived, so a rare double publish is a duplicate consumers already drop.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared.contracts.envelope import Envelope
from shared.contracts.messages import BY_TYPE
from shared.logging import get_logger
from shared.messaging.broker import Publisher, PublishFailed

log = get_logger(__name__)
_SCHEMAS = frozenset({"router"})  # services whose schema has an outbox table (migration 0010)


def _table(schema: str) -> str:
    # The schema is a code constant, never input: checked against the known ones so SQL text stays ours.
    if schema not in _SCHEMAS:
        raise ValueError(f"no outbox in schema {schema!r}")
    return f"{schema}.outbox"


@dataclass(frozen=True)
class Staged:
    """An envelope kept in the outbox, with the JSON it was kept as: the body it is published with (serialised once)."""

    envelope: Envelope[Any]
    body: bytes


def _staged(item: Envelope[Any] | Staged) -> Staged:
    return item if isinstance(item, Staged) else Staged(item, item.model_dump_json().encode())


async def stage(conn: asyncpg.Connection, schema: str, envelopes: Sequence[Envelope[Any]]) -> list[Staged]:
    """Inside the handler's transaction: keep the envelopes to publish once it commits (give what this returns to
    :func:`flush`: each serialised once, for the outbox and the broker alike)."""
    staged = [_staged(e) for e in envelopes]
    if staged:
        # One statement for the batch (executemany is one execution per row on the server's side).
        await conn.execute(
            f"INSERT INTO {_table(schema)} (id, type, envelope)"  # noqa: S608
            " SELECT id, type, envelope::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[]) AS s(id, type, envelope)"
            " ON CONFLICT (id) DO NOTHING",
            [s.envelope.id for s in staged],
            [s.envelope.type for s in staged],
            [s.body.decode() for s in staged],
        )
    return staged


async def flush(
    pool: asyncpg.Pool, publisher: Publisher, schema: str, envelopes: Sequence[Envelope[Any] | Staged]
) -> None:
    """After the commit: publish (concurrently, confirmed) and forget. A failure is left to the relay."""
    table = _table(schema)
    if not envelopes:
        return
    staged = [_staged(e) for e in envelopes]
    results = await asyncio.gather(
        *(publisher.publish(s.envelope, body=s.body) for s in staged), return_exceptions=True
    )
    sent = [s.envelope.id for s, result in zip(staged, results, strict=True) if result is None]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, PublishFailed):
            raise result
    if len(sent) < len(staged):
        log.warning("outbox.left_for_relay", unpublished=len(staged) - len(sent))
    if sent:
        await pool.execute(f"DELETE FROM {table} WHERE id = ANY($1::uuid[])", sent)  # noqa: S608


class Flushes:
    """A batching consumer's flushes: each after its batch's commit, one at a time and in commit order, while the
    next batch is carried out — the deliveries are acked once their transaction commits (what it staged is safe in
    the outbox), not once the broker has confirmed its events. Measured in the pipeline at 100 msg/s, the router
    spent ~25 ms of each ~120 ms batch waiting for its publishes' confirms and the DELETE. A batch's flush waits
    for the previous one to end (the events keep the order of the commits), so at most one is under way."""

    def __init__(self) -> None:
        self._under_way: asyncio.Task[None] | None = None

    async def after_commit(
        self, pool: asyncpg.Pool, publisher: Publisher, schema: str, envelopes: Sequence[Envelope[Any] | Staged]
    ) -> None:
        """Start flushing ``envelopes`` once the previous flush has ended; return without waiting for this one."""
        await self.drain()
        if envelopes:
            self._under_way = asyncio.create_task(_flush_logged(pool, publisher, schema, envelopes), name="flush")

    async def drain(self) -> None:
        """Wait for the flush under way, if any (before a consumer stops, or flushes of its own)."""
        under_way, self._under_way = self._under_way, None
        if under_way is not None:
            await under_way


async def _flush_logged(
    pool: asyncpg.Pool, publisher: Publisher, schema: str, envelopes: Sequence[Envelope[Any] | Staged]
) -> None:
    try:
        await flush(pool, publisher, schema, envelopes)
    except Exception as exc:  # committed: the deliveries are carried out, the relay publishes the rest
        log.error("outbox.flush_failed", error=f"{type(exc).__name__}: {str(exc)[:300]}", staged=len(envelopes))


@dataclass
class Staging:
    """The open transaction of :func:`transaction`: its connection, and what it staged to publish after it."""

    conn: asyncpg.Connection
    schema: str
    staged: list[Staged] = field(default_factory=list)

    async def stage(self, envelopes: Sequence[Envelope[Any]]) -> None:
        self.staged.extend(await stage(self.conn, self.schema, envelopes))


@asynccontextmanager
async def transaction(pool: asyncpg.Pool, publisher: Publisher, schema: str) -> AsyncIterator[Staging]:
    """Stage → commit → flush in one ``async with``: the body's effects and staged envelopes commit together;
    once they have (and the connection is back in the pool) the envelopes are published. An exception rolls
    everything back and publishes nothing."""
    _table(schema)
    async with pool.acquire() as conn, conn.transaction():
        staging = Staging(conn, schema)
        yield staging
    await flush(pool, publisher, schema, staging.staged)


async def relay_once(pool: asyncpg.Pool, publisher: Publisher, schema: str, min_age_s: float, batch: int = 100) -> int:
    """Publish what handlers could not (older than ``min_age_s``); return how many were published."""
    async with pool.acquire() as conn, conn.transaction():
        query = (
            f"SELECT id, type, envelope FROM {_table(schema)}"  # noqa: S608
            " WHERE created_at < now() - make_interval(secs => $1)"
            " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        )
        rows = await conn.fetch(query, min_age_s, batch)
        published: list[uuid.UUID] = []
        for row in rows:
            envelope = _envelope_model(row["type"]).model_validate(row["envelope"])
            try:
                await publisher.publish(envelope)
            except PublishFailed as exc:
                log.warning("outbox.relay_failed", reason=exc.reason, pending=len(rows) - len(published))
                break
            published.append(row["id"])
        if published:
            await conn.execute(f"DELETE FROM {_table(schema)} WHERE id = ANY($1::uuid[])", published)  # noqa: S608
            log.info("outbox.relayed", count=len(published))
        return len(published)


def _envelope_model(message_type: str) -> Any:
    payload = BY_TYPE[message_type]
    return Envelope[payload]  # type: ignore[valid-type]  # parametrised at run time, for validation


def relaying(
    pool: asyncpg.Pool, publisher: Publisher, schema: str, every_s: float = 1.0, min_age_s: float = 5.0
) -> AbstractAsyncContextManager[None]:
    """Run the relay in the background for as long as the service runs."""
    # Imported here: the runtime imports the batch module, which stages in this one.
    from shared.messaging.runtime import every

    return every(every_s, lambda: relay_once(pool, publisher, schema, min_age_s), f"{schema}-outbox-relay")

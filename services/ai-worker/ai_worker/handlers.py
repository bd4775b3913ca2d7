"""ai-worker handler: one customer message in, one ``message.send`` command out, in the client's voice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from ai_worker.llm import LLMRefused, LLMUnavailable, Persona, ReplyWriter, Turn
from shared.broker import Publisher
from shared.consumer import Retry
from shared.envelope import Envelope, derived_id, wrap
from shared.logging import get_logger
from shared.messages import MarkRead, MessageReceived, ReplyPaused, SendMessage

log = get_logger(__name__)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    writer: ReplyWriter
    history_messages: int = 20


async def reply(envelope: Envelope[MessageReceived], deps: Deps) -> None:
    received = envelope.data
    turn = customer_turn(received)
    if turn is None:
        log.info("reply.skipped", reason="nothing to answer", message_type=received.message_type)
        return
    async with deps.pool.acquire() as conn, _conversation_turn(conn, received):
        if not await _stored(conn, received):
            # The router publishes just before it commits: its transaction (this message, and any burst that
            # came with it) is about to be visible. Reading now would miss it.
            raise Retry("message not visible in router.messages yet", delay_s=1)
        if await _newer_customer_message(conn, received):
            # A burst: the latest message's reply will read this one in its history, so answer once.
            log.info("reply.coalesced", wamid=received.wamid)
            return
        persona, policy = await _persona(conn, received)
        if policy == "pause_ai" and await _quota_spent(conn, received):
            return await _pause(received, envelope, deps)
        await _show_typing(received, envelope, deps)
        history = await _history(conn, received, turn, deps.history_messages)
        try:
            text = await deps.writer.write(persona, history)
        except LLMUnavailable as exc:
            raise Retry(f"LLM unavailable: {exc}", delay_s=5) from exc
        except LLMRefused as exc:
            raise Retry(f"LLM refused the request (check model and key): {exc}", delay_s=120) from exc
        command = SendMessage(
            client_id=received.client_id,
            phone_number_id=received.phone_number_id,
            to=received.wa_id,
            text=text,
            reply_to_wamid=received.wamid,
            customer_last_message_at=received.timestamp,
        )
        # The send's idempotency key is derived from the customer's wamid: a redelivered message.received
        # produces the same command, and the sender sends it once.
        await deps.publisher.publish(
            wrap(
                command,
                id=derived_id(command.TYPE, received.wamid),
                tenant_id=received.client_id,
                correlation_id=envelope.correlation_id,
            )
        )
        log.info("reply.written", wamid=received.wamid, chars=len(text))


@asynccontextmanager
async def _conversation_turn(conn: asyncpg.Connection, received: MessageReceived) -> AsyncIterator[None]:
    """One conversation at a time: replicas writing to the same customer take turns.

    A session lock rather than a transaction, so nothing stays open in PostgreSQL while the model writes. A
    crashed worker's lock goes with its connection, and the pool unlocks all on release.
    """
    key = f"{received.phone_number_id}:{received.wa_id}"
    await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)


async def _stored(conn: asyncpg.Connection, received: MessageReceived) -> bool:
    return bool(await conn.fetchval("SELECT true FROM router.messages WHERE wamid = $1", received.wamid))


async def _newer_customer_message(conn: asyncpg.Connection, received: MessageReceived) -> bool:
    # Meta's timestamps have one-second resolution: ties are broken by the order the router stored them in.
    # A later reaction or system notice gets no answer of its own, so it does not take this message's.
    return bool(
        await conn.fetchval(
            """SELECT true FROM router.messages m JOIN router.messages this ON this.wamid = $3
                WHERE m.phone_number_id = $1 AND m.wa_id = $2 AND m.direction = 'inbound'
                  AND m.message_type <> ALL($4::text[])
                  AND (m.sent_at, m.seq) > (this.sent_at, this.seq) LIMIT 1""",
            received.phone_number_id,
            received.wa_id,
            received.wamid,
            sorted(SILENT_TYPES),
        )
    )


# Types that call for no answer of their own: a reaction, Meta's system notices, what Meta could not read.
SILENT_TYPES = frozenset({"reaction", "system", "unsupported", "unknown", "errors"})


def customer_turn(received: MessageReceived) -> str | None:
    """What the customer said, as the model reads it; None when there is nothing to answer."""
    if received.message_type in SILENT_TYPES:
        return None
    if received.text:
        return received.text
    # A photo or voice note without words still deserves an answer; the model is told what arrived.
    return f"[{received.message_type} from the customer, with no text]"


async def _persona(conn: asyncpg.Connection, received: MessageReceived) -> tuple[Persona, str]:
    row = await conn.fetchrow(
        "SELECT name, personality, quota_policy FROM directory.clients WHERE id = $1",
        uuid.UUID(str(received.client_id)),
    )
    if row is None:
        raise Retry(f"client {received.client_id} not found in the directory", delay_s=30)
    persona = Persona(business_name=row["name"], personality=row["personality"], customer_name=received.profile_name)
    return persona, str(row["quota_policy"])


async def _quota_spent(conn: asyncpg.Connection, received: MessageReceived) -> bool:
    """True when a reply would open a conversation and the month's free ones are used up."""
    return bool(
        await conn.fetchval(
            """SELECT u.free_remaining = 0 AND NOT EXISTS (
                      SELECT 1 FROM billing.conversations c
                       WHERE c.phone_number_id = u.phone_number_id AND c.wa_id = $2 AND c.expires_at > now())
                 FROM dashboard.number_usage u WHERE u.phone_number_id = $1""",
            received.phone_number_id,
            received.wa_id,
        )
    )


async def _show_typing(received: MessageReceived, cause: Envelope[MessageReceived], deps: Deps) -> None:
    command = MarkRead(client_id=received.client_id, phone_number_id=received.phone_number_id, wamid=received.wamid)
    await deps.publisher.publish(
        wrap(
            command,
            id=derived_id(command.TYPE, received.wamid),
            tenant_id=received.client_id,
            correlation_id=cause.correlation_id,
        )
    )


async def _pause(received: MessageReceived, cause: Envelope[MessageReceived], deps: Deps) -> None:
    paused = ReplyPaused(
        client_id=received.client_id,
        phone_number_id=received.phone_number_id,
        wa_id=received.wa_id,
        wamid=received.wamid,
        reason="free conversations of the month used up; the client's policy pauses AI replies",
    )
    await deps.publisher.publish(
        wrap(
            paused,
            id=derived_id(paused.TYPE, received.wamid),
            tenant_id=received.client_id,
            correlation_id=cause.correlation_id,
        )
    )
    log.info("reply.paused", wamid=received.wamid)


async def _history(conn: asyncpg.Connection, received: MessageReceived, turn: str, limit: int) -> list[Turn]:
    rows = await conn.fetch(
        """SELECT direction, body FROM router.messages
            WHERE phone_number_id = $1 AND wa_id = $2 AND sent_at <= $3 AND body IS NOT NULL
            ORDER BY sent_at DESC, seq DESC LIMIT $4""",
        received.phone_number_id,
        received.wa_id,
        received.timestamp,
        limit,
    )
    turns = [Turn("customer" if r["direction"] == "inbound" else "business", r["body"]) for r in reversed(rows)]
    if not turns or turns[-1].role != "customer" or received.text is None:
        turns.append(Turn("customer", turn))
    return turns

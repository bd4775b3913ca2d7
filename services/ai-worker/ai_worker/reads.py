"""What the ai-worker reads, read-only: the client's personality and policy (``directory``), the conversation
(``router.messages``) and the month's usage (``dashboard.number_usage``, ``billing.conversations``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from ai_worker.llm import Persona, Turn
from shared.consumer import Retry
from shared.messages import MessageReceived


@asynccontextmanager
async def conversation_turn(conn: asyncpg.Connection, received: MessageReceived) -> AsyncIterator[None]:
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


async def stored(conn: asyncpg.Connection, received: MessageReceived) -> bool:
    return bool(await conn.fetchval("SELECT true FROM router.messages WHERE wamid = $1", received.wamid))


async def newer_customer_message(conn: asyncpg.Connection, received: MessageReceived) -> bool:
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


async def persona(conn: asyncpg.Connection, received: MessageReceived) -> tuple[Persona, str]:
    row = await conn.fetchrow(
        "SELECT name, personality, quota_policy FROM directory.clients WHERE id = $1",
        uuid.UUID(str(received.client_id)),
    )
    if row is None:
        raise Retry(f"client {received.client_id} not found in the directory", delay_s=30)
    persona = Persona(business_name=row["name"], personality=row["personality"], customer_name=received.profile_name)
    return persona, str(row["quota_policy"])


async def quota_spent(conn: asyncpg.Connection, received: MessageReceived) -> bool:
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


async def history(conn: asyncpg.Connection, received: MessageReceived, turn: str, limit: int) -> list[Turn]:
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

"""What the ai-worker reads of others, read-only and by tenant, through their read views: the client's
personality and policy (``directory_read.clients``) and the month's usage (``billing_read.current_usage``,
``billing_read.conversations``); the conversation is ``conversation.py``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from ai_worker.conversation import SILENT_TYPES, turn_text
from shared.contracts.messages import MessageReceived
from shared.messaging.consumer import Retry
from shared.prompting import Persona


@asynccontextmanager
async def conversation_turn(conn: asyncpg.Connection, received: MessageReceived) -> AsyncIterator[None]:
    """One conversation at a time: replicas writing to the same customer take turns.

    A session lock rather than a transaction, so nothing stays open in PostgreSQL while the model writes. A
    crashed worker's lock goes with its connection, and the pool unlocks all on release.
    """
    key = f"{received.client_id}:{received.phone_number_id}:{received.wa_id}"
    await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)


def customer_turn(received: MessageReceived) -> str | None:
    """What the customer said, as the model reads it; None when there is nothing to answer."""
    if received.message_type in SILENT_TYPES:
        return None
    return turn_text(received.message_type, received.text)


async def persona(conn: asyncpg.Connection, received: MessageReceived) -> tuple[Persona, str]:
    row = await conn.fetchrow(
        "SELECT name, personality, personality_version, quota_policy FROM directory_read.clients WHERE id = $1",
        uuid.UUID(str(received.client_id)),
    )
    if row is None:
        raise Retry(f"client {received.client_id} not found in the directory", delay_s=30)
    persona = Persona(
        business_name=row["name"],
        personality=row["personality"],
        customer_name=received.profile_name,
        version=row["personality_version"],
    )
    return persona, str(row["quota_policy"])


async def quota_spent(conn: asyncpg.Connection, received: MessageReceived) -> bool:
    """True when a reply would open a conversation and the month's free ones are used up (this client's)."""
    return bool(
        await conn.fetchval(
            """SELECT u.free_remaining = 0 AND NOT EXISTS (
                      SELECT 1 FROM billing_read.conversations c
                       WHERE c.client_id = u.client_id AND c.phone_number_id = u.phone_number_id
                         AND c.wa_id = $3 AND c.expires_at > now())
                 FROM billing_read.current_usage u WHERE u.client_id = $1 AND u.phone_number_id = $2""",
            received.client_id,
            received.phone_number_id,
            received.wa_id,
        )
    )

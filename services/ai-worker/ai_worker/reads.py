"""What the ai-worker reads of others, read-only and by tenant, through their read views, when a customer message
arrives: the router's record of it (``router_read.messages``), the client's personality and policy
(``directory_read.clients``) and the month's usage (``billing_read.current_usage``, ``billing_read.conversations``);
the conversation is ``conversation.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from ai_worker.conversation import SILENT_TYPES, turn_text
from shared.contracts.messages import MessageReceived
from shared.messaging.consumer import Retry
from shared.prompting import Persona


@dataclass(frozen=True)
class Arrival:
    """A customer message as its handler first finds it: how long ago the router stored it, whether its
    conversation's turn is taken (old enough to answer), the client's personality and whether a reply would be
    paused — read in one round trip."""

    age_s: float | None  # seconds since the router stored it (the database's clock); None if it is not visible
    turn: bool  # this connection holds the conversation's lock (:func:`arrival`)
    persona: Persona | None  # None when the directory does not know the client
    paused: bool  # the client's policy pauses AI replies once the month's free conversations are used up, and they are

    def known_persona(self, received: MessageReceived) -> Persona:
        if self.persona is None:
            raise Retry(f"client {received.client_id} not found in the directory", delay_s=30)
        return self.persona


# The conversation's lock is taken in the same statement, once the message is past the burst window: the reads
# that decide (conversation.standing) are the next statement, so their snapshot is taken after the lock is held.
_ARRIVAL = """
WITH m AS (SELECT GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - recorded_at)::float8, 0) AS age_s
             FROM router_read.messages
            WHERE client_id = $1 AND phone_number_id = $2 AND wa_id = $3 AND wamid = $4 AND direction = 'inbound')
SELECT m.age_s,
       CASE WHEN m.age_s >= $5 THEN pg_advisory_lock(hashtextextended($6, 0))::text IS NOT NULL END AS turn,
       c.name, c.personality, c.personality_version,
       c.quota_policy = 'pause_ai' AND (
           SELECT u.free_remaining = 0 AND NOT EXISTS (
                      SELECT 1 FROM billing_read.conversations b
                       WHERE b.client_id = u.client_id AND b.phone_number_id = u.phone_number_id
                         AND b.wa_id = $3 AND b.expires_at > now())
             FROM billing_read.current_usage u WHERE u.client_id = $1 AND u.phone_number_id = $2) AS paused
  FROM (SELECT) AS one
  LEFT JOIN m ON true
  LEFT JOIN directory_read.clients c ON c.id = $1"""


@asynccontextmanager
async def arrival(
    pool: asyncpg.Pool, received: MessageReceived, window_s: float
) -> AsyncIterator[tuple[asyncpg.Connection, Arrival]]:
    """A connection and the message's :class:`Arrival`; past ``window_s``, with its conversation's turn held for
    as long as the connection is out of the pool.

    One conversation at a time: replicas writing to the same customer take turns. A session lock rather than a
    transaction, so nothing stays open in PostgreSQL while the model writes. It is given back by the pool's reset
    when the connection returns (:meth:`shared.db.Connection.hold_session_locks`): after all the block did,
    recorded and published, and without an unlock's round trip of its own. A crashed worker's lock goes with
    its connection.
    """
    key = f"{received.client_id}:{received.phone_number_id}:{received.wa_id}"
    async with pool.acquire() as conn:
        conn.hold_session_locks()  # the query may take the turn's lock: the release gives it back
        row = await conn.fetchrow(_ARRIVAL, *_scope(received), window_s, key)
        persona = None
        if row["name"] is not None:
            persona = Persona(
                business_name=row["name"],
                personality=row["personality"],
                customer_name=received.profile_name,
                version=row["personality_version"],
            )
        yield conn, Arrival(row["age_s"], bool(row["turn"]), persona, bool(row["paused"]))


def _scope(received: MessageReceived) -> tuple[object, ...]:
    return received.client_id, received.phone_number_id, received.wa_id, received.wamid


def customer_turn(received: MessageReceived) -> str | None:
    """What the customer said, as the model reads it; None when there is nothing to answer."""
    if received.message_type in SILENT_TYPES:
        return None
    return turn_text(received.message_type, received.text)

"""What the ai-worker reads of others, read-only and by tenant, through their read views, when a customer message
arrives: the router's record of it (``router_read.messages``), the client's personality and policy
(``directory_read.clients``) and the month's usage (``billing_read.current_usage``, ``billing_read.conversations``);
the conversation is ``conversation.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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
    turn: bool  # this connection holds the conversation's lock (:func:`arrivals`)
    persona: Persona | None  # None when the directory does not know the client
    paused: bool  # the client's policy pauses AI replies once the month's free conversations are used up, and they are
    busy: bool = False  # old enough to answer, but another connection holds the turn (asked without waiting)

    def known_persona(self, received: MessageReceived) -> Persona:
        if self.persona is None:
            raise Retry(f"client {received.client_id} not found in the directory", delay_s=30)
        return self.persona


# One row per message, in their order ($1-$4 their scopes as arrays, $6 their turns' keys). The conversation's lock is
# taken in the same statement, once the message is past the burst window ($5): waiting for it ($7), or only if it is
# free. The reads that decide (conversation.standings) are the next statement, so their snapshot is taken after the
# locks are held. A message is found by its wamid alone, the rest checked outside an OFFSET 0 fence, for the reason
# conversation._STANDING gives.
_ARRIVALS = """
SELECT m.age_s,
       CASE WHEN m.age_s >= $5 THEN
            CASE WHEN $7 THEN pg_advisory_lock(hashtextextended(q.turn, 0))::text IS NOT NULL
                 ELSE pg_try_advisory_lock(hashtextextended(q.turn, 0)) END
       END AS turn,
       c.name, c.personality, c.personality_version,
       c.quota_policy = 'pause_ai' AND (
           SELECT u.free_remaining = 0 AND NOT EXISTS (
                      SELECT 1 FROM billing_read.conversations b
                       WHERE b.client_id = u.client_id AND b.phone_number_id = u.phone_number_id
                         AND b.wa_id = q.wa_id AND b.expires_at > now())
             FROM billing_read.current_usage u
            WHERE u.client_id = q.client_id AND u.phone_number_id = q.phone_number_id) AS paused
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $6::text[]) WITH ORDINALITY
           AS q(client_id, phone_number_id, wa_id, wamid, turn, n)
  LEFT JOIN LATERAL (
      SELECT GREATEST(EXTRACT(EPOCH FROM clock_timestamp() - recorded_at)::float8, 0) AS age_s
        FROM (SELECT client_id, phone_number_id, wa_id, direction, recorded_at FROM router_read.messages
               WHERE wamid = q.wamid OFFSET 0) AS by_wamid
       WHERE client_id = q.client_id AND phone_number_id = q.phone_number_id AND wa_id = q.wa_id
         AND direction = 'inbound') m ON true
  LEFT JOIN directory_read.clients c ON c.id = q.client_id
 ORDER BY q.n"""


@asynccontextmanager
async def arrivals(
    pool: asyncpg.Pool, received: Sequence[MessageReceived], window_s: float, *, wait: bool
) -> AsyncIterator[tuple[asyncpg.Connection, list[Arrival]]]:
    """A connection and each message's :class:`Arrival`, in their order; past ``window_s``, with its
    conversation's turn held for as long as the connection is out of the pool — waited for (``wait``), or taken
    only if no other connection holds it (else the arrival is ``busy``: waiting for it beside turns already held
    could deadlock two batches).

    One conversation at a time: replicas writing to the same customer take turns. A session lock rather than a
    transaction, so nothing stays open in PostgreSQL while the model writes. It is given back by the pool's reset
    when the connection returns (:meth:`shared.db.Connection.hold_session_locks`): after all the block did,
    recorded and published, and without an unlock's round trip of its own. A crashed worker's lock goes with
    its connection. Two messages of one conversation in a batch share its turn (a session's lock is re-entrant).
    """
    scopes = [list(column) for column in zip(*(_scope(r) for r in received), strict=True)]
    turns = [f"{r.client_id}:{r.phone_number_id}:{r.wa_id}" for r in received]
    async with pool.acquire() as conn:
        conn.hold_session_locks()  # the query may take the turns' locks: the release gives them back
        rows = await conn.fetch(_ARRIVALS, *scopes, window_s, turns, wait)
        yield conn, [_arrival(row, r) for row, r in zip(rows, received, strict=True)]


def _arrival(row: asyncpg.Record, received: MessageReceived) -> Arrival:
    persona = None
    if row["name"] is not None:
        persona = Persona(
            business_name=row["name"],
            personality=row["personality"],
            customer_name=received.profile_name,
            version=row["personality_version"],
        )
    turn = row["turn"]
    return Arrival(row["age_s"], bool(turn), persona, bool(row["paused"]), busy=turn is False)


def _scope(received: MessageReceived) -> tuple[object, ...]:
    return received.client_id, received.phone_number_id, received.wa_id, received.wamid


def customer_turn(received: MessageReceived) -> str | None:
    """What the customer said, as the model reads it; None when there is nothing to answer."""
    if received.message_type in SILENT_TYPES:
        return None
    return turn_text(received.message_type, received.text)

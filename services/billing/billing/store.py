"""SQL of the billing schema (``billing``); reads ``directory`` for quotas, policies and timezones.

Usage and windows are the client's: keyed by (client, number, …), never by the number alone, since a number
can change owner and its past stays with the owner it had.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast

import asyncpg

from shared.contracts.messages import ConversationOpened, MessageStatusChanged


@dataclass(frozen=True)
class Number:
    client_id: uuid.UUID
    phone_number_id: str
    free_quota: int
    timezone: str
    quota_policy: Literal["count_paid", "pause_ai"]


@dataclass(frozen=True)
class Usage:
    conversations: int
    free_used: int


async def first_time(conn: asyncpg.Connection, envelope_id: uuid.UUID) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO billing.inbox (envelope_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", envelope_id
    )
    return bool(inserted)


async def number(conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str) -> Number | None:
    """The number as ``client_id``'s, whose event it is: its quota, and the client's timezone and policy.

    The tenant is the event's (the router resolved it when the message came in), not whoever holds the number
    by the time billing reads it: an event of the previous owner that lags behind a move still counts for it,
    against the quota it had. ``None`` while the number is not in the directory.
    """
    row = await conn.fetchrow(
        """SELECT CASE WHEN n.client_id = $1 THEN n.free_quota ELSE COALESCE(m.from_free_quota, n.free_quota) END
                  AS free_quota, c.timezone, c.quota_policy
             FROM directory.numbers n
             JOIN directory.clients c ON c.id = $1
             LEFT JOIN LATERAL (SELECT from_free_quota FROM directory.number_moves
                                 WHERE phone_number_id = n.phone_number_id AND from_client_id = $1
                                 ORDER BY moved_at DESC LIMIT 1) m ON true
            WHERE n.phone_number_id = $2""",
        client_id,
        phone_number_id,
    )
    if row is None:
        return None
    return Number(
        client_id,
        phone_number_id,
        row["free_quota"],
        row["timezone"],
        cast(Literal["count_paid", "pause_ai"], row["quota_policy"]),
    )


async def month_of(conn: asyncpg.Connection, moment: datetime, timezone: str) -> date:
    """The first day of the month ``moment`` falls in, on the client's clock (PostgreSQL's tz database)."""
    value = await conn.fetchval("SELECT date_trunc('month', $1::timestamptz AT TIME ZONE $2)::date", moment, timezone)
    return cast(date, value)


async def lock_window(conn: asyncpg.Connection, number: Number, wa_id: str) -> None:
    """Serialise decisions about one (client, number, customer) window across billing replicas."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", f"{number.client_id}:{number.phone_number_id}:{wa_id}"
    )


async def open_window_exists(conn: asyncpg.Connection, number: Number, wa_id: str, at: datetime) -> bool:
    """A window of this client's: one the number's previous owner opened with the customer is not."""
    return bool(
        await conn.fetchval(
            """SELECT true FROM billing.conversations
                WHERE client_id = $1 AND phone_number_id = $2 AND wa_id = $3 AND opened_at <= $4 AND expires_at > $4
                LIMIT 1""",
            number.client_id,
            number.phone_number_id,
            wa_id,
            at,
        )
    )


async def usage(conn: asyncpg.Connection, number: Number, month: date) -> Usage:
    row = await conn.fetchrow(
        """SELECT conversations, free_used FROM billing.usage
            WHERE client_id = $1 AND phone_number_id = $2 AND month = $3""",
        number.client_id,
        number.phone_number_id,
        month,
    )
    return Usage(row["conversations"], row["free_used"]) if row else Usage(0, 0)


async def add_usage(
    conn: asyncpg.Connection,
    number: Number,
    month: date,
    *,
    conversations: int = 0,
    free_used: int = 0,
    paid: int = 0,
    messages_in: int = 0,
    messages_out: int = 0,
    delivered: int = 0,
) -> None:
    await conn.execute(
        """INSERT INTO billing.usage AS u
               (client_id, phone_number_id, month, conversations, free_used, paid, messages_in, messages_out,
                delivered)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (client_id, phone_number_id, month) DO UPDATE SET
               conversations = u.conversations + EXCLUDED.conversations,
               free_used = u.free_used + EXCLUDED.free_used,
               paid = u.paid + EXCLUDED.paid,
               messages_in = u.messages_in + EXCLUDED.messages_in,
               messages_out = u.messages_out + EXCLUDED.messages_out,
               delivered = u.delivered + EXCLUDED.delivered,
               updated_at = now()""",
        number.client_id,
        number.phone_number_id,
        month,
        conversations,
        free_used,
        paid,
        messages_in,
        messages_out,
        delivered,
    )


async def open_conversation(conn: asyncpg.Connection, opened: ConversationOpened, wamid: str) -> None:
    await conn.execute(
        """INSERT INTO billing.conversations
               (id, client_id, phone_number_id, wa_id, opened_at, expires_at, month, free, opened_by_wamid)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        uuid.uuid4(),
        opened.client_id,
        opened.phone_number_id,
        opened.wa_id,
        opened.opened_at,
        opened.expires_at,
        opened.month,
        opened.free,
        wamid,
    )


async def insert_meta_pricing(conn: asyncpg.Connection, status: MessageStatusChanged) -> None:
    conversation, pricing = status.conversation, status.pricing
    await conn.execute(
        """INSERT INTO billing.meta_pricing (wamid, status, client_id, phone_number_id, conversation_id, origin_type,
                                            billable, pricing_model, category)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (wamid, status) DO NOTHING""",
        status.wamid,
        status.status,
        status.client_id,
        status.phone_number_id,
        conversation.id if conversation else None,
        conversation.origin_type if conversation else None,
        pricing.billable if pricing else None,
        pricing.pricing_model if pricing else None,
        pricing.category if pricing else None,
    )


# Dedup records outlive Meta's redelivery (7 days) and the month they count in; an operator replaying a dead
# letter older than this would count it again.
INBOX_RETENTION_DAYS = 35


async def forget_old_envelopes(pool: asyncpg.Pool) -> int:
    deleted = await pool.execute(
        "DELETE FROM billing.inbox WHERE processed_at < now() - make_interval(days => $1)", INBOX_RETENTION_DAYS
    )
    return int(deleted.split()[-1])

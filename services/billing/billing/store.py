"""SQL of the billing schema (``billing``): the inbox of envelopes already counted, conversation windows,
monthly usage and Meta's pricing data.

Usage and windows are the client's: keyed by (client, number, …), never by the number alone, since a number
can change owner and its past stays with the owner it had.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from billing.numbers import Number
from shared.contracts.messages import ConversationOpened, MessageStatusChanged


@dataclass(frozen=True)
class Usage:
    conversations: int
    free_used: int


async def lock_window(conn: asyncpg.Connection, number: Number, wa_id: str) -> None:
    """Serialise decisions about one (client, number, customer) window across billing replicas."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", f"{number.client_id}:{number.phone_number_id}:{wa_id}"
    )


async def lock_month(conn: asyncpg.Connection, number: Number, month: date, memo: dict[str, Any]) -> None:
    """Serialise decisions about one (client, number, month)'s free conversations across billing replicas, once
    per transaction (``memo``: the batch's)."""
    held: set[tuple[uuid.UUID, str, date]] = memo.setdefault("billing.months_locked", set())
    key = (number.client_id, number.phone_number_id, month)
    if key in held:
        return
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 2))", f"{number.client_id}:{number.phone_number_id}:{month}"
    )
    held.add(key)


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


@dataclass(frozen=True)
class UsageDelta:
    """What one effect adds to a number's month: stored at once, or with the batch's others (:func:`add_usage`)."""

    client_id: uuid.UUID
    phone_number_id: str
    month: date
    conversations: int = 0
    free_used: int = 0
    paid: int = 0
    messages_in: int = 0
    messages_out: int = 0
    delivered: int = 0

    @property
    def key(self) -> tuple[uuid.UUID, str, date]:
        return self.client_id, self.phone_number_id, self.month


# Where a batch's first pass keeps the usage its effects added, stored in one statement at its end.
PENDING_USAGE = "billing.usage"


async def usage(conn: asyncpg.Connection, number: Number, month: date, pending: Sequence[UsageDelta] = ()) -> Usage:
    """The month's counters so far: as stored, with what the batch's effects before this one added (``pending``)."""
    row = await conn.fetchrow(
        """SELECT conversations, free_used FROM billing.usage
            WHERE client_id = $1 AND phone_number_id = $2 AND month = $3""",
        number.client_id,
        number.phone_number_id,
        month,
    )
    key = (number.client_id, number.phone_number_id, month)
    mine = [d for d in pending if d.key == key]
    conversations, free_used = (row["conversations"], row["free_used"]) if row else (0, 0)
    return Usage(conversations + sum(d.conversations for d in mine), free_used + sum(d.free_used for d in mine))


async def add_usage(conn: asyncpg.Connection, deltas: Sequence[UsageDelta]) -> None:
    """Add to each number's month, one row per (client, number, month) whatever the deltas, in one statement;
    rows in key order, so that two replicas adding to the same rows lock them in the same order."""
    summed: dict[tuple[uuid.UUID, str, date], list[int]] = {}
    for d in deltas:
        total = summed.setdefault(d.key, [0] * 6)
        for n, value in enumerate((d.conversations, d.free_used, d.paid, d.messages_in, d.messages_out, d.delivered)):
            total[n] += value
    keys = sorted(summed, key=lambda k: (str(k[0]), k[1], k[2]))
    columns = list(zip(*(summed[k] for k in keys), strict=True))
    await conn.execute(
        """INSERT INTO billing.usage AS u
               (client_id, phone_number_id, month, conversations, free_used, paid, messages_in, messages_out,
                delivered)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::date[], $4::int[], $5::int[], $6::int[], $7::int[],
                                $8::int[], $9::int[])
           ON CONFLICT (client_id, phone_number_id, month) DO UPDATE SET
               conversations = u.conversations + EXCLUDED.conversations,
               free_used = u.free_used + EXCLUDED.free_used,
               paid = u.paid + EXCLUDED.paid,
               messages_in = u.messages_in + EXCLUDED.messages_in,
               messages_out = u.messages_out + EXCLUDED.messages_out,
               delivered = u.delivered + EXCLUDED.delivered,
               updated_at = now()""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        *(list(column) for column in columns),
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


async def insert_meta_pricing(conn: asyncpg.Connection, statuses: Sequence[MessageStatusChanged]) -> None:
    """Meta's conversation and pricing data of these statuses, each (wamid, status) once (the first stands)."""
    if not statuses:
        return
    conversations = [s.conversation for s in statuses]
    pricings = [s.pricing for s in statuses]
    await conn.execute(
        """INSERT INTO billing.meta_pricing (wamid, status, client_id, phone_number_id, conversation_id, origin_type,
                                            billable, pricing_model, category)
           SELECT wamid, status, client_id, pnid, conversation_id, origin_type, billable, pricing_model, category
             FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::boolean[],
                         $8::text[], $9::text[])
                  WITH ORDINALITY AS p(wamid, status, client_id, pnid, conversation_id, origin_type, billable,
                                       pricing_model, category, ord)
            ORDER BY p.ord
           ON CONFLICT (wamid, status) DO NOTHING""",
        [s.wamid for s in statuses],
        [s.status for s in statuses],
        [s.client_id for s in statuses],
        [s.phone_number_id for s in statuses],
        [c.id if c else None for c in conversations],
        [c.origin_type if c else None for c in conversations],
        [p.billable if p else None for p in pricings],
        [p.pricing_model if p else None for p in pricings],
        [p.category if p else None for p in pricings],
    )


# Dedup records outlive Meta's redelivery (7 days) and the month they count in; an operator replaying a dead
# letter older than this would count it again.
INBOX_RETENTION_DAYS = 35

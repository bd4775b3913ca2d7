"""A number as the event's client's, read through the directory's views (``directory_read``): its free quota,
the client's timezone and quota policy, and the month a moment falls in on that client's clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast

import asyncpg


@dataclass(frozen=True)
class Number:
    client_id: uuid.UUID
    phone_number_id: str
    free_quota: int
    timezone: str
    quota_policy: Literal["count_paid", "pause_ai"]


async def number(
    conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str, moment: datetime
) -> tuple[Number, date] | None:
    """The number as ``client_id``'s, whose event it is: its quota, and the client's timezone and policy; and the
    month ``moment`` falls in on that client's clock (PostgreSQL's tz database), read in the same round trip.

    The tenant is the event's (the router resolved it when the message came in), not whoever holds the number
    by the time billing reads it: an event of the previous owner that lags behind a move still counts for it,
    against the quota it had. ``None`` while the number is not in the directory.
    """
    row = await conn.fetchrow(
        """SELECT CASE WHEN n.client_id = $1 THEN n.free_quota ELSE COALESCE(m.from_free_quota, n.free_quota) END
                  AS free_quota, c.timezone, c.quota_policy,
                  date_trunc('month', $3::timestamptz AT TIME ZONE c.timezone)::date AS month
             FROM directory_read.numbers n
             JOIN directory_read.clients c ON c.id = $1
             LEFT JOIN LATERAL (SELECT from_free_quota FROM directory_read.number_moves
                                 WHERE phone_number_id = n.phone_number_id AND from_client_id = $1
                                 ORDER BY moved_at DESC LIMIT 1) m ON true
            WHERE n.phone_number_id = $2""",
        client_id,
        phone_number_id,
        moment,
    )
    if row is None:
        return None
    policy = cast(Literal["count_paid", "pause_ai"], row["quota_policy"])
    return Number(client_id, phone_number_id, row["free_quota"], row["timezone"], policy), row["month"]

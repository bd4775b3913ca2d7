"""A number as the event's client's, read through the directory's views (``directory_read``): its free quota,
the client's timezone and quota policy, and the month a moment falls in on that client's clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

import asyncpg


@dataclass(frozen=True)
class Number:
    client_id: uuid.UUID
    phone_number_id: str
    free_quota: int
    timezone: str
    quota_policy: Literal["count_paid", "pause_ai"]


_MEMO = "billing.numbers"
_QUARTER_HOUR = timedelta(minutes=15)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _quarter_hour(moment: datetime) -> datetime:
    """The quarter hour ``moment`` falls in. Every UTC offset in the tz database is a whole number of quarter
    hours, so a month starts on one: two moments of the same quarter hour are in the same month on any clock."""
    epoch = _EPOCH if moment.tzinfo is not None else _EPOCH.replace(tzinfo=None)  # naive: UTC, as PostgreSQL reads it
    return moment - (moment - epoch) % _QUARTER_HOUR


async def number(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    phone_number_id: str,
    moment: datetime,
    memo: dict[str, Any] | None = None,
) -> tuple[Number, date] | None:
    """The number as ``client_id``'s, whose event it is: its quota, and the client's timezone and policy; and the
    month ``moment`` falls in on that client's clock (PostgreSQL's tz database), read in the same round trip.

    The tenant is the event's (the router resolved it when the message came in), not whoever holds the number
    by the time billing reads it: an event of the previous owner that lags behind a move still counts for it,
    against the quota it had. ``None`` while the number is not in the directory.

    With ``memo`` (a batch transaction's, ``Outgoing.memo``) it is read once per transaction for each client,
    number and quarter hour: a batch's events are nearly all for a few numbers, within seconds of each other.
    """
    known: dict[tuple[uuid.UUID, str, datetime], tuple[Number, date] | None]
    known = memo.setdefault(_MEMO, {}) if memo is not None else {}
    key = (client_id, phone_number_id, _quarter_hour(moment))
    if key not in known:
        known[key] = await _read(conn, client_id, phone_number_id, moment)
    return known[key]


async def _read(
    conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str, moment: datetime
) -> tuple[Number, date] | None:
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

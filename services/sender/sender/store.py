"""SQL of the sender's own schema (``sender``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from sender.limits import Limits
from shared.contracts.messages import SendMessage
from shared.graph.errors import GraphError


@dataclass(frozen=True)
class SendState:
    state: str  # sending (Meta may have it), sent, failed
    started_at: datetime


@dataclass(frozen=True)
class Claim:
    """What :func:`claim` found and did, in one statement, for a send about to go to Meta."""

    earlier: SendState | None  # this send's own record before the statement: a redelivery
    previous: SendState | None  # the part before it, when it waits for one
    wait_s: float  # 0 once both buckets gave a token, else seconds until they will
    claimed: bool  # recorded 'sending' (committed): this attempt may call Meta


# One round trip for what a send checks and takes before Meta: its own record, the previous part's, the pair's
# token (asked first: it usually says no, and a refused pair wastes no number token), the number's, and the
# 'sending' record. Each step only when the ones before allow it (CASE and MATERIALIZED: evaluated once, in
# order), so a duplicate, a waiting part or a closed window takes no token. $5: the part waited for (NULL: none);
# $11: the customer-service window is open; $12: an earlier attempt whose outcome is unknown may be sent again.
_CLAIM = """
WITH earlier AS MATERIALIZED (
    SELECT state, started_at FROM sender.sends WHERE send_id = $1
), previous AS MATERIALIZED (
    SELECT state, started_at FROM sender.sends WHERE send_id = $5::uuid
), go AS MATERIALIZED (
    SELECT (NOT EXISTS (SELECT FROM earlier)
            OR ($12::boolean AND EXISTS (SELECT FROM earlier WHERE state = 'sending')))
       AND ($5::uuid IS NULL OR EXISTS (SELECT FROM previous WHERE state <> 'sending'))
       AND $11::boolean AS ok
), pair AS MATERIALIZED (
    SELECT CASE WHEN ok THEN sender.take_token($6, $7, $8) END AS wait FROM go
), taken AS MATERIALIZED (
    SELECT pair.wait AS pair_wait, CASE WHEN pair.wait = 0 THEN sender.take_token($9, $10, $10) END AS wait
      FROM pair
), claimed AS (
    INSERT INTO sender.sends (send_id, client_id, phone_number_id, recipient, state, started_at)
    SELECT $1, $2, $3, $4, 'sending', now() FROM taken WHERE wait = 0
    ON CONFLICT (send_id) DO UPDATE SET started_at = now(), attempts = sender.sends.attempts + 1
        WHERE sender.sends.state = 'sending' AND $12::boolean
    RETURNING 1
)
SELECT (SELECT state FROM earlier) AS earlier_state, (SELECT started_at FROM earlier) AS earlier_at,
       (SELECT state FROM previous) AS previous_state, (SELECT started_at FROM previous) AS previous_at,
       COALESCE(NULLIF(pair_wait, 0), wait, 0) AS wait_s, EXISTS (SELECT FROM claimed) AS claimed
  FROM taken
"""


async def claim(
    conn: asyncpg.Connection | asyncpg.Pool,
    send_id: uuid.UUID,
    command: SendMessage,
    limits: Limits,
    *,
    after_send_id: uuid.UUID | None,
    window_open: bool,
    resend: bool = False,
) -> Claim:
    """Record the send as 'sending' (committed before the call to Meta: a crash after Meta's answer leaves this
    trace behind) once nothing holds it back; else say what does, having taken nothing it did not need."""
    row = await conn.fetchrow(_CLAIM, *_claim_args(send_id, command, limits, after_send_id, window_open, resend))
    assert row is not None  # one row, always: ``taken`` has one
    return _claim_of(row)


@dataclass(frozen=True)
class Asked:
    """One send of :func:`claim_all`."""

    send_id: uuid.UUID
    command: SendMessage
    after_send_id: uuid.UUID | None
    window_open: bool


async def claim_all(conn: asyncpg.Connection, asked: Sequence[Asked], limits: Limits) -> list[Claim]:
    """:func:`claim` for several sends, in their order, in one round trip and one transaction (asyncpg's
    ``fetchmany``: all of them commit, or none). Each sees the ones before it: a part claimed just before its
    next part holds that one back, as two claims one after the other would."""
    args = [_claim_args(a.send_id, a.command, limits, a.after_send_id, a.window_open, False) for a in asked]
    return [_claim_of(row) for row in await conn.fetchmany(_CLAIM, args)]


def _claim_args(
    send_id: uuid.UUID,
    command: SendMessage,
    limits: Limits,
    after_send_id: uuid.UUID | None,
    window_open: bool,
    resend: bool,
) -> tuple[object, ...]:
    return (
        send_id,
        command.client_id,
        command.phone_number_id,
        command.to,
        after_send_id,
        f"pair:{command.phone_number_id}:{command.to}",
        limits.pair_rate_per_s,
        float(limits.pair_burst),
        f"number:{command.phone_number_id}",
        limits.number_rate_per_s,
        window_open,
        resend,
    )


def _claim_of(row: asyncpg.Record) -> Claim:
    return Claim(
        earlier=SendState(row["earlier_state"], row["earlier_at"]) if row["earlier_state"] else None,
        previous=SendState(row["previous_state"], row["previous_at"]) if row["previous_state"] else None,
        wait_s=float(row["wait_s"]),
        claimed=bool(row["claimed"]),
    )


async def mark_sending(conn: asyncpg.Connection, send_id: uuid.UUID, command: SendMessage) -> None:
    """What :func:`claim` records, alone (what a sender that died after Meta's answer leaves behind)."""
    await conn.execute(
        """INSERT INTO sender.sends (send_id, client_id, phone_number_id, recipient, state, started_at)
           VALUES ($1, $2, $3, $4, 'sending', now())
           ON CONFLICT (send_id) DO UPDATE SET started_at = now(), attempts = sender.sends.attempts + 1
           WHERE sender.sends.state = 'sending'""",
        send_id,
        command.client_id,
        command.phone_number_id,
        command.to,
    )


async def forget_sending(conn: asyncpg.Connection | asyncpg.Pool, send_id: uuid.UUID) -> None:
    """Meta answered with an error (or the call was never made): it certainly does not have the message."""
    await conn.execute("DELETE FROM sender.sends WHERE send_id = $1 AND state = 'sending'", send_id)


async def wamid_meta_reported(conn: asyncpg.Connection | asyncpg.Pool, send_id: uuid.UUID) -> str | None:
    """The wamid of a message Meta reported a status for under this send's callback data (the router's read view)."""
    value = await conn.fetchval("SELECT wamid FROM router_read.statuses WHERE callback_data = $1 LIMIT 1", str(send_id))
    return str(value) if value is not None else None


async def take_number_tokens(pool: asyncpg.Pool, phone_number_ids: list[str], limits: Limits) -> list[float]:
    """A token from each number's bucket, for several calls at once (in their order), in one statement: Meta counts
    every call on a number's /messages (sends and read receipts) against its throughput. 0 where granted, else
    the seconds to wait."""
    rows = await pool.fetch(
        """SELECT sender.take_token('number:' || number, $2, $2) AS wait
             FROM unnest($1::text[]) WITH ORDINALITY AS asked (number, position) ORDER BY position""",
        phone_number_ids,
        limits.number_rate_per_s,
    )
    return [float(row["wait"]) for row in rows]


async def record_sent(
    conn: asyncpg.Connection | asyncpg.Pool, send_id: uuid.UUID, command: SendMessage, wamid: str
) -> None:
    await record_all_sent(conn, [(send_id, command, wamid)])


async def record_all_sent(
    conn: asyncpg.Connection | asyncpg.Pool, sent: Sequence[tuple[uuid.UUID, SendMessage, str]]
) -> None:
    """Sends that left, with Meta's wamids, in one statement (each send once: the last of a repeated one)."""
    rows = {send_id: (command, wamid) for send_id, command, wamid in sent}
    await conn.execute(
        """INSERT INTO sender.sends AS s (send_id, client_id, phone_number_id, recipient, state, wamid)
           SELECT send_id, client_id, phone_number_id, recipient, 'sent', wamid
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])
                  AS t(send_id, client_id, phone_number_id, recipient, wamid)
           ON CONFLICT (send_id) DO UPDATE SET state = 'sent', wamid = EXCLUDED.wamid
           WHERE s.state = 'sending'""",
        list(rows),
        [command.client_id for command, _ in rows.values()],
        [command.phone_number_id for command, _ in rows.values()],
        [command.to for command, _ in rows.values()],
        [wamid for _, wamid in rows.values()],
    )


async def record_failed(
    conn: asyncpg.Connection | asyncpg.Pool, send_id: uuid.UUID, command: SendMessage, error: GraphError
) -> None:
    await conn.execute(
        """INSERT INTO sender.sends (send_id, client_id, phone_number_id, recipient, state, error_code, error_title)
           VALUES ($1, $2, $3, $4, 'failed', $5, $6)
           ON CONFLICT (send_id) DO UPDATE SET state = 'failed', error_code = EXCLUDED.error_code,
               error_title = EXCLUDED.error_title
           WHERE sender.sends.state = 'sending'""",
        send_id,
        command.client_id,
        command.phone_number_id,
        command.to,
        error.code,
        error.title,
    )


async def forget_idle_buckets(pool: asyncpg.Pool, idle_s: float) -> int:
    """A bucket untouched for this long is full again: dropping it changes no decision, and keeps one row per
    customer from piling up forever."""
    deleted = await pool.execute(
        "DELETE FROM sender.rate_buckets WHERE refilled_at < now() - make_interval(secs => $1)", idle_s
    )
    return int(deleted.split()[-1])

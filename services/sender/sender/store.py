"""SQL of the sender's own schema (``sender``)."""

from __future__ import annotations

import uuid
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


async def outcome(conn: asyncpg.Connection, send_id: uuid.UUID) -> SendState | None:
    row = await conn.fetchrow("SELECT state, started_at FROM sender.sends WHERE send_id = $1", send_id)
    return SendState(row["state"], row["started_at"]) if row else None


async def mark_sending(conn: asyncpg.Connection, send_id: uuid.UUID, command: SendMessage) -> None:
    """Committed before the call to Meta: a crash after Meta's answer leaves this trace behind."""
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


async def forget_sending(conn: asyncpg.Connection, send_id: uuid.UUID) -> None:
    """Meta answered with an error: it certainly does not have the message."""
    await conn.execute("DELETE FROM sender.sends WHERE send_id = $1 AND state = 'sending'", send_id)


async def wamid_meta_reported(conn: asyncpg.Connection, send_id: uuid.UUID) -> str | None:
    """The wamid of a message Meta reported a status for under this send's callback data (the router's read view)."""
    value = await conn.fetchval("SELECT wamid FROM router_read.statuses WHERE callback_data = $1 LIMIT 1", str(send_id))
    return str(value) if value is not None else None


async def take_tokens(conn: asyncpg.Connection, phone_number_id: str, to: str, limits: Limits) -> float:
    """0 when both the pair's and the number's buckets gave a token, else seconds to wait.

    The pair is asked first: it is the one that usually says no, and a refused pair wastes no number token.
    """
    pair_wait = await conn.fetchval(
        "SELECT sender.take_token($1, $2, $3)",
        f"pair:{phone_number_id}:{to}",
        limits.pair_rate_per_s,
        float(limits.pair_burst),
    )
    if pair_wait > 0:
        return float(pair_wait)
    return await take_number_token(conn, phone_number_id, limits)


async def take_number_token(conn: asyncpg.Connection, phone_number_id: str, limits: Limits) -> float:
    """Meta counts every call on a number's /messages (sends and read receipts) against its throughput."""
    wait = await conn.fetchval(
        "SELECT sender.take_token($1, $2, $3)",
        f"number:{phone_number_id}",
        limits.number_rate_per_s,
        limits.number_rate_per_s,
    )
    return float(wait)


async def record_sent(conn: asyncpg.Connection, send_id: uuid.UUID, command: SendMessage, wamid: str) -> None:
    await conn.execute(
        """INSERT INTO sender.sends (send_id, client_id, phone_number_id, recipient, state, wamid)
           VALUES ($1, $2, $3, $4, 'sent', $5)
           ON CONFLICT (send_id) DO UPDATE SET state = 'sent', wamid = EXCLUDED.wamid
           WHERE sender.sends.state = 'sending'""",
        send_id,
        command.client_id,
        command.phone_number_id,
        command.to,
        wamid,
    )


async def record_failed(conn: asyncpg.Connection, send_id: uuid.UUID, command: SendMessage, error: GraphError) -> None:
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

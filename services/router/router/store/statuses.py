"""Meta's statuses of the business's messages, each (wamid, status) once, for the client whose message it is."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from router.store import messages
from router.webhook.notification import StatusUpdate


async def senders_of(
    conn: asyncpg.Connection, wamids: list[str], memo: dict[str, Any] | None = None
) -> dict[str, uuid.UUID]:
    """The client that sent each of these business messages, for those already recorded.

    With ``memo`` (a batch transaction's) what :func:`prepare_senders` found for the whole batch answers, and only
    the wamids it did not find are asked again: an outbound row never changes its client once written, but one
    may have been written since (a coexistence echo earlier in the batch; a ``message.sent`` earlier in the batch
    is known from the memo: it is stored at the batch's end)."""
    if memo is None:
        return await _senders(conn, wamids)
    known = memo.get(_MEMO)
    prepared = known.found if isinstance(known, _Senders) else {}
    collected = messages.outbound_in_batch(memo)
    found = {w: c for w in wamids if (c := prepared.get(w) or collected.get(w)) is not None}
    missing = [w for w in wamids if w not in found]
    if missing:
        found |= await _senders(conn, missing)
    return found


async def prepare_senders(conn: asyncpg.Connection, wamids: list[str], memo: dict[str, Any]) -> None:
    """:func:`senders_of` for every status of a batch, in one statement before its effects run."""
    memo[_MEMO] = _Senders(await _senders(conn, wamids))


@dataclass(frozen=True)
class _Senders:
    found: dict[str, uuid.UUID]


_MEMO = "router.senders"


async def _senders(conn: asyncpg.Connection, wamids: list[str]) -> dict[str, uuid.UUID]:
    if not wamids:
        return {}
    rows = await conn.fetch(SENDERS, wamids)
    return {r["wamid"]: r["client_id"] for r in rows}


# Each wamid looked up alone, behind an OFFSET 0 fence: ``wamid = ANY($1)`` is planned, on tables as a new
# deployment has them, as a sequential scan, and a prepared statement keeps that plan while the table grows.
SENDERS = """
SELECT m.wamid, m.client_id FROM unnest($1::text[]) AS asked(wamid)
 CROSS JOIN LATERAL (SELECT wamid, client_id, direction FROM router.messages
                      WHERE wamid = asked.wamid OFFSET 0) AS m
 WHERE m.direction = 'outbound'"""


async def insert_statuses(
    conn: asyncpg.Connection, owners: list[uuid.UUID], batch: list[StatusUpdate]
) -> set[tuple[str, str]]:
    """Store each (wamid, status) once, for the client in ``owners`` at the same place (the first of a pair
    stands); return the new pairs."""
    inserted = await conn.fetch(
        """INSERT INTO router.statuses
               (wamid, status, client_id, phone_number_id, occurred_at, payload, callback_data)
           SELECT wamid, status, client_id, pnid, occurred_at, payload::jsonb, callback
             FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
                  WITH ORDINALITY AS s(wamid, status, client_id, pnid, occurred_at, payload, callback, ord)
            ORDER BY s.ord
           ON CONFLICT (wamid, status) DO NOTHING RETURNING wamid, status""",
        [u.status.id for u in batch],
        [u.status.status for u in batch],
        owners,
        [u.metadata.phone_number_id for u in batch],
        [u.status.timestamp for u in batch],
        [json.dumps(u.status.model_dump(mode="json")) for u in batch],
        [u.status.biz_opaque_callback_data for u in batch],
    )
    return {(r["wamid"], r["status"]) for r in inserted}

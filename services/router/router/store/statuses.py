"""Meta's statuses of the business's messages, each (wamid, status) once, for the client whose message it is."""

from __future__ import annotations

import json
import uuid

import asyncpg

from router.webhook.notification import StatusUpdate


async def senders_of(conn: asyncpg.Connection, wamids: list[str]) -> dict[str, uuid.UUID]:
    """The client that sent each of these business messages, for those already recorded."""
    rows = await conn.fetch(
        "SELECT wamid, client_id FROM router.messages WHERE wamid = ANY($1::text[]) AND direction = 'outbound'", wamids
    )
    return {r["wamid"]: r["client_id"] for r in rows}


async def insert_statuses(
    conn: asyncpg.Connection, owners: list[uuid.UUID], batch: list[StatusUpdate]
) -> set[tuple[str, str]]:
    """Store each (wamid, status) once, for the client in ``owners`` at the same place; return the new pairs."""
    inserted = await conn.fetch(
        """INSERT INTO router.statuses
               (wamid, status, client_id, phone_number_id, occurred_at, payload, callback_data)
           SELECT wamid, status, client_id, pnid, occurred_at, payload::jsonb, callback
             FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
                  AS s(wamid, status, client_id, pnid, occurred_at, payload, callback)
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

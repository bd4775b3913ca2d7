"""SQL of the router's own schema (``router``); reads ``directory`` to resolve tenants."""

from __future__ import annotations

import json
import uuid

import asyncpg

from shared.messages import MessageSent
from shared.webhook import MessageUpdate, Status, Unparsed


async def client_for_number(conn: asyncpg.Connection, phone_number_id: str) -> uuid.UUID | None:
    value = await conn.fetchval("SELECT client_id FROM directory.numbers WHERE phone_number_id = $1", phone_number_id)
    return value if isinstance(value, uuid.UUID) else None


async def insert_inbound(conn: asyncpg.Connection, client_id: uuid.UUID, update: MessageUpdate) -> bool:
    """Store the message once; False if its wamid is already known (a redelivered webhook)."""
    message, pnid = update.message, update.metadata.phone_number_id
    inserted = await conn.fetchval(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at)
           VALUES ($1, $2, $3, $4, 'inbound', $5, $6, $7, $8)
           ON CONFLICT (wamid) DO NOTHING RETURNING true""",
        message.id,
        client_id,
        pnid,
        message.from_,
        message.type,
        message.body,
        message.model_dump(by_alias=True, mode="json"),
        message.timestamp,
    )
    if inserted:
        await conn.execute(
            """INSERT INTO router.contacts (phone_number_id, wa_id, client_id, profile_name)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (phone_number_id, wa_id) DO UPDATE
                  SET profile_name = COALESCE(EXCLUDED.profile_name, router.contacts.profile_name),
                      last_seen_at = now()""",
            pnid,
            message.from_,
            client_id,
            update.contact.profile.name if update.contact else None,
        )
    return bool(inserted)


async def insert_status(conn: asyncpg.Connection, client_id: uuid.UUID, pnid: str, status: Status) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO router.statuses (wamid, status, client_id, phone_number_id, occurred_at, payload)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (wamid, status) DO NOTHING RETURNING true""",
        status.id,
        status.status,
        client_id,
        pnid,
        status.timestamp,
        status.model_dump(mode="json"),
    )
    return bool(inserted)


async def insert_parked(conn: asyncpg.Connection, digest: str, item: Unparsed) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO router.parked (payload_sha256, reason, phone_number_id, payload)
           VALUES ($1, $2, $3, $4) ON CONFLICT (payload_sha256) DO NOTHING RETURNING true""",
        digest,
        item.reason,
        item.phone_number_id,
        json.loads(json.dumps(item.payload, default=str)),
    )
    return bool(inserted)


async def insert_outbound(conn: asyncpg.Connection, sent: MessageSent) -> None:
    await conn.execute(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at)
           VALUES ($1, $2, $3, $4, 'outbound', 'text', $5, $6, $7)
           ON CONFLICT (wamid) DO NOTHING""",
        sent.wamid,
        sent.client_id,
        sent.phone_number_id,
        sent.to,
        sent.text,
        sent.model_dump(mode="json"),
        sent.sent_at,
    )

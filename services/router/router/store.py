"""SQL of the router's own schema (``router``); reads ``directory`` to resolve tenants."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from shared.messages import MediaRef, MessageSent
from shared.webhook import FieldUpdate, InboundMessage, MessageUpdate, Status, Unparsed


async def client_for_number(conn: asyncpg.Connection, phone_number_id: str) -> uuid.UUID | None:
    value = await conn.fetchval("SELECT client_id FROM directory.numbers WHERE phone_number_id = $1", phone_number_id)
    return value if isinstance(value, uuid.UUID) else None


MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})


def content_of(message: InboundMessage) -> dict[str, Any] | None:
    """Meta's object named after the message's type (``image``, ``location``, …), whole."""
    part = message.model_dump(by_alias=True, mode="json").get(message.type)
    return part if isinstance(part, dict) else None


def media_of(message_type: str, content: dict[str, Any] | None) -> MediaRef | None:
    if message_type not in MEDIA_TYPES or not content or not isinstance(content.get("id"), str):
        return None
    return MediaRef.model_validate({k: v for k, v in content.items() if k in MediaRef.model_fields})


async def insert_inbound(conn: asyncpg.Connection, client_id: uuid.UUID, update: MessageUpdate) -> bool:
    """Store the message once; False if its wamid is already known (a redelivered webhook)."""
    message, pnid = update.message, update.metadata.phone_number_id
    media = media_of(message.type, content_of(message))
    inserted = await conn.fetchval(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at,
                media_id, media_mime_type, media_sha256)
           VALUES ($1, $2, $3, $4, 'inbound', $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (wamid) DO NOTHING RETURNING true""",
        message.id,
        client_id,
        pnid,
        message.from_,
        message.type,
        message.body,
        message.model_dump(by_alias=True, mode="json"),
        message.timestamp,
        media.id if media else None,
        media.mime_type if media else None,
        media.sha256 if media else None,
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


async def number_by_phone(conn: asyncpg.Connection, phone_number: str) -> tuple[uuid.UUID, str] | None:
    row = await conn.fetchrow(
        "SELECT client_id, phone_number_id FROM directory.numbers WHERE phone_number = $1", phone_number
    )
    return (row["client_id"], row["phone_number_id"]) if row else None


async def client_for_waba(conn: asyncpg.Connection, waba_id: str) -> uuid.UUID | None:
    """The WABA's client when every number under it belongs to one client (else the event has no tenant)."""
    rows = await conn.fetch("SELECT DISTINCT client_id FROM directory.numbers WHERE waba_id = $1", waba_id)
    return rows[0]["client_id"] if len(rows) == 1 else None


async def insert_meta_event(
    conn: asyncpg.Connection, digest: str, update: FieldUpdate, client_id: uuid.UUID | None, value: dict[str, Any]
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO router.meta_events (digest, field, waba_id, client_id, value)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING RETURNING true""",
        digest,
        update.field,
        update.waba_id,
        client_id,
        value,
    )
    return bool(inserted)


async def insert_echo(
    conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str, echo: dict[str, Any]
) -> None:
    """A coexistence echo is the business's own message: it joins the conversation as outbound."""
    wamid, to, kind = echo.get("id"), echo.get("to"), str(echo.get("type") or "unknown")
    if not isinstance(wamid, str) or not isinstance(to, str):
        return
    part = echo.get(kind) if isinstance(echo.get(kind), dict) else {}
    body = part.get("body") or part.get("caption") if part else None
    try:
        sent_at = datetime.fromtimestamp(int(echo.get("timestamp") or 0), tz=UTC)
    except (TypeError, ValueError):
        sent_at = datetime.now(UTC)
    await conn.execute(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at)
           VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8) ON CONFLICT (wamid) DO NOTHING""",
        wamid,
        client_id,
        phone_number_id,
        to,
        kind,
        body,
        echo,
        sent_at,
    )

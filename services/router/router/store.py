"""SQL of the router's own schema (``router``); reads ``directory`` to resolve tenants."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.reading import storable
from router.webhook.messages import InboundMessage
from router.webhook.notification import FieldUpdate, MessageUpdate, StatusUpdate, Unparsed
from shared.contracts.messages import MediaRef, MessageSent
from shared.text import storable_text

# What PostgreSQL refuses because of the data itself, not the moment (an outage): retrying cannot help, so the
# part is parked with the reason instead, and its neighbours are stored without it.
UNSTORABLE = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    UnicodeEncodeError,
)
# Index entries are bounded (btree: about 2.7 kB); a longer phone_number_id on a parked part is cut, the
# payload keeps it whole.
_PARKED_ID_CHARS = 128


async def client_for_number(conn: asyncpg.Connection, phone_number_id: str) -> uuid.UUID | None:
    value = await conn.fetchval("SELECT client_id FROM directory.numbers WHERE phone_number_id = $1", phone_number_id)
    return value if isinstance(value, uuid.UUID) else None


async def clients_for_numbers(conn: asyncpg.Connection, phone_number_ids: set[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch(
        "SELECT phone_number_id, client_id FROM directory.numbers WHERE phone_number_id = ANY($1::text[])",
        list(phone_number_ids),
    )
    return {r["phone_number_id"]: r["client_id"] for r in rows}


def content_of(message: InboundMessage) -> dict[str, Any] | None:
    """Meta's object named after the message's type (``image``, ``location``, …), exactly as sent."""
    part = message.raw.get(message.type)
    return part if isinstance(part, dict) else None


def media_of(message: InboundMessage) -> MediaRef | None:
    media = message.media
    if media is None or not media.id:
        return None
    return MediaRef(
        id=media.id, mime_type=media.mime_type, sha256=media.sha256, caption=media.caption, filename=media.filename
    )


async def keep_original(pool: asyncpg.Pool, body: bytes) -> str:
    """The exact bytes of a body whose stored form differs from them; returns their sha256, the reference."""
    digest = hashlib.sha256(body).hexdigest()
    await pool.execute(
        "INSERT INTO router.originals (sha256, body) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING", digest, body
    )
    return digest


async def insert_inbound(
    conn: asyncpg.Connection,
    clients: dict[str, uuid.UUID],
    batch: list[MessageUpdate],
    original_sha256: str | None = None,
) -> set[str]:
    """Store each message once, in the given order (``seq``); return the wamids that were new."""
    rows = []
    for update in batch:
        message = update.message
        media = media_of(message)
        rows.append(
            (
                message.id,
                clients[update.metadata.phone_number_id],
                update.metadata.phone_number_id,
                message.from_,
                message.type,
                message.body,
                json.dumps(message.raw),
                message.timestamp,
                media.id if media else None,
                media.mime_type if media else None,
                media.sha256 if media else None,
            )
        )
    inserted = await conn.fetch(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at,
                media_id, media_mime_type, media_sha256, original_sha256)
           SELECT m.wamid, m.client_id, m.pnid, m.wa_id, 'inbound', m.kind, m.body, m.payload::jsonb, m.sent_at,
                  m.media_id, m.mime, m.sha, $12
             FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::timestamptz[], $9::text[], $10::text[], $11::text[])
                  WITH ORDINALITY AS m(wamid, client_id, pnid, wa_id, kind, body, payload, sent_at, media_id, mime,
                                       sha, ord)
            ORDER BY m.ord
           ON CONFLICT (wamid) DO NOTHING RETURNING wamid""",
        *(list(column) for column in zip(*rows, strict=True)),
        original_sha256,
    )
    new = {r["wamid"] for r in inserted}
    contacts: dict[tuple[str, str], tuple[uuid.UUID, str | None]] = {}
    for update in batch:
        if update.message.id in new:
            name = update.contact.profile.name if update.contact else None
            key = (update.metadata.phone_number_id, update.message.from_)
            contacts[key] = (clients[key[0]], name or contacts.get(key, (None, None))[1])
    if contacts:
        await conn.execute(
            """INSERT INTO router.contacts (phone_number_id, wa_id, client_id, profile_name)
               SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[])
               ON CONFLICT (client_id, phone_number_id, wa_id) DO UPDATE
                  SET profile_name = COALESCE(EXCLUDED.profile_name, router.contacts.profile_name),
                      last_seen_at = now()""",
            [k[0] for k in contacts],
            [k[1] for k in contacts],
            [v[0] for v in contacts.values()],
            [v[1] for v in contacts.values()],
        )
    return new


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


async def insert_parked(
    conn: asyncpg.Connection, digest: str, item: Unparsed, payload: Any, original_sha256: str | None
) -> bool:
    """``payload``: the part in a storable form (see ``router.reading.storable``)."""
    inserted = await conn.fetchval(
        """INSERT INTO router.parked (payload_sha256, reason, phone_number_id, payload, original_sha256)
           VALUES ($1, $2, $3, $4, $5)
           -- Parked again after a replay: waiting again (the event's derived id makes it no news downstream).
           ON CONFLICT (payload_sha256) DO UPDATE SET replayed_at = NULL WHERE router.parked.replayed_at IS NOT NULL
           RETURNING true""",
        digest,
        item.reason,
        item.phone_number_id[:_PARKED_ID_CHARS] if item.phone_number_id is not None else None,
        payload,
        original_sha256,
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
        storable_text(sent.text),  # a CRM's text may hold what PostgreSQL cannot
        storable(sent.model_dump(mode="json"))[0],
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

"""Messages of a conversation, both sides (the customer's, the business's replies and coexistence echoes), and
the customers (contacts) they came from."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.reading import storable
from router.webhook.messages import MEDIA_TYPES, InboundMessage
from router.webhook.notification import MessageUpdate
from shared.contracts.messages import MediaRef, MessageSent
from shared.text import storable_text


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


@dataclass(frozen=True)
class Inbound:
    """A customer message to store: for its number's client, with the exact bytes' digest of a webhook that had to
    be altered to be stored (``router.originals``)."""

    update: MessageUpdate
    client_id: uuid.UUID
    original_sha256: str | None = None


async def insert_inbound(conn: asyncpg.Connection, batch: Sequence[Inbound]) -> set[str]:
    """Store each message once, in the given order (``seq``), and its customer; return the wamids that were new."""
    rows = []
    for inbound in batch:
        message, media = inbound.update.message, media_of(inbound.update.message)
        rows.append(
            (
                message.id,
                inbound.client_id,
                inbound.update.metadata.phone_number_id,
                message.from_,
                message.type,
                message.body,
                json.dumps(message.raw),
                message.timestamp,
                media.id if media else None,
                media.mime_type if media else None,
                media.sha256 if media else None,
                inbound.original_sha256,
            )
        )
    inserted = await conn.fetch(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at,
                media_id, media_mime_type, media_sha256, original_sha256)
           SELECT m.wamid, m.client_id, m.pnid, m.wa_id, 'inbound', m.kind, m.body, m.payload::jsonb, m.sent_at,
                  m.media_id, m.mime, m.sha, m.original
             FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[])
                  WITH ORDINALITY AS m(wamid, client_id, pnid, wa_id, kind, body, payload, sent_at, media_id, mime,
                                       sha, original, ord)
            ORDER BY m.ord
           ON CONFLICT (wamid) DO NOTHING RETURNING wamid""",
        *(list(column) for column in zip(*rows, strict=True)),
    )
    new = {r["wamid"] for r in inserted}
    # One row per customer in one statement (an upsert may not touch a row twice): the last name given by a new
    # message stands, each message counted by its first occurrence (a repeated one is a duplicate, as alone).
    contacts: dict[tuple[uuid.UUID, str, str], str | None] = {}
    first = set(new)
    for inbound in batch:
        update = inbound.update
        if update.message.id in first:
            first.discard(update.message.id)
            name = update.contact.profile.name if update.contact else None
            key = (inbound.client_id, update.metadata.phone_number_id, update.message.from_)
            contacts[key] = name or contacts.get(key)
    if contacts:
        await conn.execute(
            """INSERT INTO router.contacts (phone_number_id, wa_id, client_id, profile_name)
               SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[])
               ON CONFLICT (client_id, phone_number_id, wa_id) DO UPDATE
                  SET profile_name = COALESCE(EXCLUDED.profile_name, router.contacts.profile_name),
                      last_seen_at = now()""",
            [k[1] for k in contacts],
            [k[2] for k in contacts],
            [k[0] for k in contacts],
            list(contacts.values()),
        )
    return new


OUTBOUND = "router.outbound"  # in a batch's memo: its message.sent, stored at its end


def outbound_in_batch(memo: dict[str, Any]) -> dict[str, uuid.UUID]:
    """The client of each business message a batch's effects have collected so far, to be stored at its end."""
    return {sent.wamid: sent.client_id for sent in reversed(memo.get(OUTBOUND, ()))}


async def insert_outbound(conn: asyncpg.Connection, batch: Sequence[MessageSent]) -> None:
    """The business's messages as the sender reports them sent, each once (the first of a wamid stands)."""
    if not batch:
        return
    await conn.execute(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at)
           SELECT m.wamid, m.client_id, m.pnid, m.wa_id, 'outbound', 'text', m.body, m.payload::jsonb, m.sent_at
             FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
                  WITH ORDINALITY AS m(wamid, client_id, pnid, wa_id, body, payload, sent_at, ord)
            ORDER BY m.ord
           ON CONFLICT (wamid) DO NOTHING""",
        [s.wamid for s in batch],
        [s.client_id for s in batch],
        [s.phone_number_id for s in batch],
        [s.to for s in batch],
        [storable_text(s.text) for s in batch],  # a CRM's text may hold what PostgreSQL cannot
        [json.dumps(storable(s.model_dump(mode="json"))[0]) for s in batch],
        [s.sent_at for s in batch],
    )


async def insert_echo(
    conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str, echo: dict[str, Any]
) -> None:
    """A coexistence echo is the business's own message: it joins the conversation as outbound, with its media
    (Meta's id, mime type and sha256) kept as a customer's are, so that the dashboard shows the photo it was."""
    wamid, to, kind = echo.get("id"), echo.get("to"), str(echo.get("type") or "unknown")
    if not isinstance(wamid, str) or not isinstance(to, str):
        return
    found = echo.get(kind)
    part: dict[str, Any] = found if isinstance(found, dict) else {}
    body = part.get("body") or part.get("caption") if part else None
    media = echo_media(kind, part)
    try:
        sent_at = datetime.fromtimestamp(int(echo.get("timestamp") or 0), tz=UTC)
    except (TypeError, ValueError):
        sent_at = datetime.now(UTC)
    await conn.execute(
        """INSERT INTO router.messages
               (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at,
                media_id, media_mime_type, media_sha256)
           VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (wamid) DO NOTHING""",
        wamid,
        client_id,
        phone_number_id,
        to,
        kind,
        body,
        echo,
        sent_at,
        media.id if media else None,
        media.mime_type if media else None,
        media.sha256 if media else None,
    )


def echo_media(kind: str, part: dict[str, Any]) -> MediaRef | None:
    """An echo's media object, read as leniently as the echo: what is not a string is not kept."""
    if kind not in MEDIA_TYPES or not isinstance(part.get("id"), str) or not part["id"]:
        return None

    def text(key: str) -> str | None:
        value = part.get(key)
        return value if isinstance(value, str) else None

    return MediaRef(id=part["id"], mime_type=text("mime_type"), sha256=text("sha256"))

"""What the dashboard shows of a message, read from Meta's object for its type (``router_read.messages.content``).

The answers' shapes are pydantic models so that ``GET /api/openapi.json`` documents the very fields built here.
Summaries are data (type, text, file name), never words: the dashboard says "voice note" in the client's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

PREVIEW_CHARS = 120
MEDIA_TYPES = ("audio", "video", "image", "document", "sticker")
Author = Literal["customer", "ai", "crm", "person"]


class MessageMedia(BaseModel):
    kind: Literal["audio", "voice", "video", "image", "document", "sticker"]
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None
    # The gateway's media proxy (Authorization header, never the key in the URL), for a customer's media and for
    # what a person sent from the WhatsApp Business app alike; null where Meta gave no media id.
    url: str | None = None


class MessageLocation(BaseModel):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None


class MessageReaction(BaseModel):
    emoji: str | None = None  # null: the customer took their reaction back
    message_id: str | None = None


class InteractiveReply(BaseModel):
    type: str  # button_reply, list_reply, nfm_reply (a flow), button (a template's quick reply)
    id: str | None = None
    title: str | None = None
    description: str | None = None


class MessageTemplate(BaseModel):
    name: str | None = None
    language: str | None = None


class MessageContact(BaseModel):
    name: str | None = None
    phones: list[str] = []


class ConversationPreview(BaseModel):
    """The customer's newest message, summarised: ``text`` is its first 120 characters (the text, a caption, a
    place's name, a button's title, an emoji)."""

    type: str
    kind: str | None = None  # for media: audio, voice, video, image, document, sticker
    text: str | None = None
    truncated: bool = False
    filename: str | None = None
    at: datetime


def _str(part: dict[str, Any] | None, key: str) -> str | None:
    value = part.get(key) if isinstance(part, dict) else None
    return value if isinstance(value, str) and value else None


def media_kind(message_type: str, content: Any) -> str:
    voice = isinstance(content, dict) and content.get("voice") is True  # Meta: recorded in WhatsApp
    return "voice" if message_type == "audio" and voice else message_type


def preview(
    message_type: str | None, body: str | None, content: Any, at: datetime | None
) -> ConversationPreview | None:
    if message_type is None or at is None:
        return None
    part = content if isinstance(content, dict) else None
    text = body
    if message_type == "location" and part is not None:
        text = _str(part, "name") or _str(part, "address")
    return ConversationPreview(
        type=message_type,
        kind=media_kind(message_type, content) if message_type in MEDIA_TYPES else None,
        text=text[:PREVIEW_CHARS] if text else None,
        truncated=bool(text and len(text) > PREVIEW_CHARS),
        filename=_str(part, "filename") if message_type == "document" else None,
        at=at,
    )


def media(row: Any, client_id: str) -> MessageMedia | None:
    if row["message_type"] not in MEDIA_TYPES:
        return None
    part = row["content"] if isinstance(row["content"], dict) else None
    media_id = row["media_id"]
    return MessageMedia(
        kind=media_kind(row["message_type"], part),  # type: ignore[arg-type]  # one of MEDIA_TYPES or voice
        mime_type=row["media_mime_type"] or _str(part, "mime_type"),
        filename=_str(part, "filename"),
        caption=_str(part, "caption"),
        url=f"/api/clients/{client_id}/media/{media_id}" if media_id else None,
    )


def location(message_type: str, part: dict[str, Any] | None) -> MessageLocation | None:
    if message_type != "location" or part is None:
        return None
    return MessageLocation.model_validate({k: part.get(k) for k in ("latitude", "longitude", "name", "address")})


def reaction(message_type: str, part: dict[str, Any] | None) -> MessageReaction | None:
    if message_type != "reaction" or part is None:
        return None
    return MessageReaction(emoji=_str(part, "emoji"), message_id=_str(part, "message_id"))


def interactive(message_type: str, part: dict[str, Any] | None) -> InteractiveReply | None:
    if message_type == "button" and part is not None:
        return InteractiveReply(type="button", id=_str(part, "payload"), title=_str(part, "text"))
    if message_type != "interactive" or part is None:
        return None
    kind = _str(part, "type") or "unknown"
    reply = part.get(kind) if isinstance(part.get(kind), dict) else {}
    return InteractiveReply(
        type=kind,
        id=_str(reply, "id"),
        title=_str(reply, "title") or _str(reply, "name"),
        description=_str(reply, "description") or _str(reply, "body"),
    )


def template(message_type: str, part: dict[str, Any] | None) -> MessageTemplate | None:
    if message_type != "template" or part is None:
        return None
    language = part.get("language")
    code = _str(language, "code") if isinstance(language, dict) else language if isinstance(language, str) else None
    return MessageTemplate(name=_str(part, "name"), language=code)


def contacts(message_type: str, content: Any) -> list[MessageContact] | None:
    if message_type != "contacts" or not isinstance(content, list):
        return None
    cards = []
    for card in content:
        if isinstance(card, dict):
            phones = [p.get("phone") or p.get("wa_id") for p in card.get("phones") or [] if isinstance(p, dict)]
            name = _str(card.get("name"), "formatted_name")
            cards.append(MessageContact(name=name, phones=[p for p in phones if isinstance(p, str)]))
    return cards

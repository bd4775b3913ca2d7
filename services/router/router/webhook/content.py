"""What an inbound message carries, one model per ``type`` of Meta's messages webhook reference.

Each message holds an object named after its type (``"type": "image", "image": {...}``). The names and
fields are Meta's (Cloud API webhooks reference, "messages" field); every field beyond the ones that make the
object what it is may be absent, so all are optional and read leniently.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from router.webhook.model import Lenient, LenientDict, LenientStr, MetaId, MetaModel, Readable


class WebhookError(MetaModel):
    """Meta's error object, on a failed status, an ``unsupported`` message or a history that was declined."""

    code: Lenient[int] = None
    title: Lenient[str] = None
    message: Lenient[str] = None
    href: Lenient[str] = None
    error_data: LenientDict = Field(default_factory=dict)

    @property
    def details(self) -> str | None:
        # Meta asks callers to branch on ``code`` and ``error_data.details``, never on the wording of ``title``.
        details = self.error_data.get("details")
        return details if isinstance(details, str) else None


class Text(MetaModel):
    body: LenientStr = ""
    preview_url: Lenient[bool] = None


class Media(MetaModel):
    """image, audio, video, document and sticker: fetch the bytes with ``GET /{id}``, then its short-lived URL."""

    # History sync sends media messages without an id first (they follow in a later webhook).
    id: Lenient[MetaId] = None
    mime_type: Lenient[str] = None
    sha256: Lenient[str] = None
    caption: Lenient[str] = None  # image, video, document
    filename: Lenient[str] = None  # document
    animated: Lenient[bool] = None  # sticker
    voice: Lenient[bool] = None  # audio: recorded in WhatsApp rather than an attached file
    url: Lenient[str] = None


class Location(MetaModel):
    latitude: Lenient[float] = None
    longitude: Lenient[float] = None
    name: Lenient[str] = None
    address: Lenient[str] = None
    url: Lenient[str] = None


class Reply(MetaModel):
    """``button_reply`` and ``list_reply``: the id the business gave the option, and its title."""

    id: Lenient[str] = None
    title: Lenient[str] = None
    description: Lenient[str] = None  # list_reply


class FlowReply(MetaModel):
    """``nfm_reply``: a completed WhatsApp Flow; ``response_json`` is a JSON string shaped by the Flow."""

    name: Lenient[str] = None
    body: Lenient[str] = None
    response_json: Lenient[str] = None


class Interactive(MetaModel):
    type: LenientStr = ""
    button_reply: Lenient[Reply] = None
    list_reply: Lenient[Reply] = None
    nfm_reply: Lenient[FlowReply] = None

    @property
    def title(self) -> str | None:
        reply = self.button_reply or self.list_reply
        if reply is not None:
            return reply.title
        if self.nfm_reply is not None:
            return self.nfm_reply.body
        # A reply kind Meta adds later (call_permission_reply, …) still comes as an object named after its type.
        return first_text((self.model_extra or {}).get(self.type))


class Button(MetaModel):
    """A quick-reply button of a template: ``payload`` is the business's, ``text`` the button's label."""

    payload: Lenient[str] = None
    text: Lenient[str] = None


class Reaction(MetaModel):
    message_id: Lenient[str] = None
    emoji: Lenient[str] = None  # absent when the customer removes their reaction


class ProductItem(MetaModel):
    product_retailer_id: Lenient[str] = None
    quantity: Lenient[int] = None
    item_price: Lenient[float] = None
    currency: Lenient[str] = None


class Order(MetaModel):
    catalog_id: Lenient[str] = None
    text: Lenient[str] = None
    product_items: Readable[ProductItem] = Field(default_factory=list)


class System(MetaModel):
    """user_changed_number (``wa_id``/``new_wa_id``: the new number) or user_changed_user_id (BSUIDs only)."""

    body: Lenient[str] = None
    type: Lenient[str] = None
    wa_id: Lenient[str] = None
    new_wa_id: Lenient[str] = None
    user_id: Lenient[str] = None
    new_user_id: Lenient[str] = None
    customer: Lenient[str] = None


class Referral(MetaModel):
    """A click-to-WhatsApp ad or post the customer came from; ``ctwa_clid`` is the click id for conversions."""

    source_url: Lenient[str] = None
    source_type: Lenient[str] = None
    source_id: Lenient[str] = None
    headline: Lenient[str] = None
    body: Lenient[str] = None
    media_type: Lenient[str] = None
    image_url: Lenient[str] = None
    video_url: Lenient[str] = None
    thumbnail_url: Lenient[str] = None
    ctwa_clid: Lenient[str] = None
    welcome_message: LenientDict = Field(default_factory=dict)


class Unsupported(MetaModel):
    type: Lenient[str] = None  # what Meta could not show (e.g. "edit"); the reason is in the message's errors


def first_text(part: Any) -> str | None:
    """A person-readable string of a content object Meta has not documented yet."""
    if isinstance(part, dict):
        for key in ("caption", "body", "text", "title", "emoji", "name"):
            if isinstance(part.get(key), str):
                return str(part[key])
    return None

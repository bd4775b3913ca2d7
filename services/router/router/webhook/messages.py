"""An inbound message and who sent it (``value.messages[]`` and ``value.contacts[]`` of the messages field).

Only what a message cannot be routed without is required: its wamid (``id``), its ``timestamp`` and a sender
(``from``, or since 2026 the business-scoped ``from_user_id`` of a customer who hides their number behind a
username). Everything else is read leniently; an unknown ``type`` keeps its object raw in ``model_extra``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, ValidatorFunctionWrapHandler, WrapValidator, model_validator

from router.webhook.contact_cards import ContactCard
from router.webhook.content import (
    Button,
    Interactive,
    Location,
    Media,
    Order,
    Reaction,
    Referral,
    System,
    Text,
    Unsupported,
    WebhookError,
    first_text,
)
from router.webhook.model import Lenient, MetaId, MetaModel, Readable, UnixTime, or_default

MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
Content = Text | Media | Location | list[ContactCard] | Interactive | Button | Reaction | Order | System | Unsupported


class Profile(MetaModel):
    name: Lenient[str] = None
    username: Lenient[str] = None  # WhatsApp usernames (2026): present when the customer has one


class Contact(MetaModel):
    """The sender as Meta knows them: ``wa_id`` (their number) may be absent, ``user_id`` (BSUID) is not."""

    wa_id: Lenient[str] = None
    user_id: Lenient[str] = None
    parent_user_id: Lenient[str] = None
    # An unreadable profile reads as an empty one, so that ``contact.profile.name`` always works.
    profile: Annotated[Profile, WrapValidator(or_default(Profile))] = Field(default_factory=Profile)


class ReferredProduct(MetaModel):
    catalog_id: Lenient[str] = None
    product_retailer_id: Lenient[str] = None


class Context(MetaModel):
    """What the message answers (``id``, ``from``), or that it was forwarded."""

    id: Lenient[str] = None
    from_: Lenient[str] = Field(default=None, alias="from")
    forwarded: Lenient[bool] = None
    frequently_forwarded: Lenient[bool] = None  # forwarded more than five times
    referred_product: Lenient[ReferredProduct] = None


class InboundMessage(MetaModel):
    id: MetaId  # the wamid
    # The customer's wa_id; for a customer known only by a business-scoped user id, that id (see from_user_id).
    from_: MetaId = Field(alias="from")
    from_user_id: Lenient[str] = None
    from_parent_user_id: Lenient[str] = None
    timestamp: UnixTime
    type: str = "unknown"
    context: Lenient[Context] = None
    referral: Lenient[Referral] = None
    errors: Readable[WebhookError] = Field(default_factory=list)
    text: Lenient[Text] = None
    image: Lenient[Media] = None
    audio: Lenient[Media] = None
    video: Lenient[Media] = None
    document: Lenient[Media] = None
    sticker: Lenient[Media] = None
    location: Lenient[Location] = None
    contacts: Lenient[Readable[ContactCard]] = None
    interactive: Lenient[Interactive] = None
    button: Lenient[Button] = None
    reaction: Lenient[Reaction] = None
    order: Lenient[Order] = None
    system: Lenient[System] = None
    unsupported: Lenient[Unsupported] = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _read(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        read = data
        if data.get("from") is None and isinstance(data.get("from_user_id"), str):
            read = {**read, "from": data["from_user_id"]}
        if not isinstance(data.get("type"), str):
            read = {**read, "type": "unknown"}
        message = handler(read)
        message._raw = data
        return message

    @property
    def raw(self) -> dict[str, Any]:
        """The message exactly as Meta sent it (what to store; the typed fields are for reading)."""
        return self._raw

    @property
    def content(self) -> Content | dict[str, Any] | None:
        """The typed object named after ``type`` (``None`` if it was unreadable: see :attr:`raw`); for a type
        not documented yet, Meta's raw object."""
        if self.type in type(self).model_fields and self.type not in _NOT_CONTENT:
            typed: Content | None = getattr(self, self.type)
            return typed
        part = (self.model_extra or {}).get(self.type)
        return part if isinstance(part, dict) else None

    @property
    def media(self) -> Media | None:
        return getattr(self, self.type) if self.type in MEDIA_TYPES else None

    @property
    def body(self) -> str | None:
        """What a person would read: the text, a caption, a button's or a list row's title, an emoji, …"""
        content = self.content
        if isinstance(content, list):
            names = [card.name.formatted_name for card in content if card.name and card.name.formatted_name]
            return ", ".join(names) or None
        if isinstance(content, Location):
            return ", ".join(part for part in (content.name, content.address) if part) or None
        for kind, read in _BODY.items():
            if isinstance(content, kind):
                return read(content)
        return first_text(content)


_BODY: dict[type[Any], Callable[[Any], str | None]] = {
    Text: lambda c: c.body,
    Media: lambda c: c.caption,
    Interactive: lambda c: c.title,
    Button: lambda c: c.text,
    Reaction: lambda c: c.emoji,
    Order: lambda c: c.text,
    System: lambda c: c.body,
    Unsupported: lambda c: None,
}
# Fields of a message that are not the object named after its type.
_NOT_CONTENT = frozenset(
    {"id", "from_", "from_user_id", "from_parent_user_id", "timestamp", "type", "context", "referral", "errors"}
)

"""Meta's webhook payload, read tolerantly: unknown fields are kept, unknown types never fail.

Shape (Meta's Cloud API webhook reference): ``{"object", "entry": [{"id": WABA_ID, "changes": [{"field",
"value"}]}]}``. One POST can carry several entries, each several changes, each several messages and
statuses: :func:`updates` walks all of them, not just the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MetaModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


def _unix(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), tz=UTC)


class Metadata(MetaModel):
    display_phone_number: str = ""
    phone_number_id: str


class Profile(MetaModel):
    name: str | None = None


class Contact(MetaModel):
    wa_id: str | None = None
    user_id: str | None = None  # business-scoped user id; a contact may come without a wa_id
    profile: Profile = Field(default_factory=Profile)


class Text(MetaModel):
    body: str = ""


class Context(MetaModel):
    id: str | None = None
    forwarded: bool | None = None
    frequently_forwarded: bool | None = None


class InboundMessage(MetaModel):
    id: str  # the wamid
    from_: str = Field(alias="from")
    timestamp: datetime
    type: str = "unknown"
    text: Text | None = None
    context: Context | None = None

    _ts = field_validator("timestamp", mode="before")(lambda v: _unix(v))

    @property
    def body(self) -> str | None:
        """The text a person would read: the text body, a caption, a button's title."""
        if self.text is not None:
            return self.text.body
        extra = self.model_extra or {}
        part = extra.get(self.type)
        if isinstance(part, dict):
            for key in ("caption", "body", "text", "title", "emoji"):
                if isinstance(part.get(key), str):
                    return str(part[key])
        return None


class StatusConversation(MetaModel):
    id: str | None = None
    origin: dict[str, Any] = Field(default_factory=dict)
    expiration_timestamp: datetime | None = None

    _ts = field_validator("expiration_timestamp", mode="before")(lambda v: None if v is None else _unix(v))


class StatusError(MetaModel):
    code: int | None = None
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] = Field(default_factory=dict)


class Status(MetaModel):
    id: str
    status: str
    timestamp: datetime
    recipient_id: str = ""
    conversation: StatusConversation | None = None
    pricing: dict[str, Any] | None = None
    errors: list[StatusError] = Field(default_factory=list)

    _ts = field_validator("timestamp", mode="before")(lambda v: _unix(v))


class Value(MetaModel):
    messaging_product: str | None = None
    metadata: Metadata | None = None
    contacts: list[Contact] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    statuses: list[dict[str, Any]] = Field(default_factory=list)


class Change(MetaModel):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


class Entry(MetaModel):
    id: str = ""
    changes: list[Change] = Field(default_factory=list)


class Notification(MetaModel):
    object: str = ""
    entry: list[Entry] = Field(default_factory=list)


@dataclass(frozen=True)
class MessageUpdate:
    waba_id: str
    metadata: Metadata
    message: InboundMessage
    contact: Contact | None


@dataclass(frozen=True)
class StatusUpdate:
    waba_id: str
    metadata: Metadata
    status: Status


@dataclass(frozen=True)
class FieldUpdate:
    """A change whose field is not ``messages``: account_update, message_template_status_update,
    phone_number_quality_update, … — Meta's value kept whole."""

    waba_id: str
    field: str
    value: dict[str, Any]


@dataclass(frozen=True)
class Unparsed:
    """A piece of the payload that could not be read: kept with the reason, never dropped."""

    reason: str
    payload: dict[str, Any]
    phone_number_id: str | None = None


Update = MessageUpdate | StatusUpdate | FieldUpdate | Unparsed


def updates(notification: Notification) -> Iterator[Update]:
    """Every message and status of every change of every entry; a bad one does not hide the others."""
    for entry in notification.entry:
        for change in entry.changes:
            if change.field != "messages":
                yield FieldUpdate(entry.id, change.field, change.value)
                continue
            yield from _messages_change(entry.id, change.value)


def _messages_change(waba_id: str, raw: dict[str, Any]) -> Iterator[Update]:
    try:
        value = Value.model_validate(raw)
    except ValueError as exc:
        yield Unparsed(f"unreadable change: {exc}", raw)
        return
    if value.metadata is None:
        yield Unparsed("change without metadata.phone_number_id", raw)
        return
    contacts = {c.wa_id: c for c in value.contacts if c.wa_id}
    for item in value.messages:
        try:
            message = InboundMessage.model_validate(item)
        except ValueError as exc:
            yield Unparsed(f"unreadable message: {exc}", item, value.metadata.phone_number_id)
            continue
        yield MessageUpdate(waba_id, value.metadata, message, contacts.get(message.from_))
    for item in value.statuses:
        try:
            yield StatusUpdate(waba_id, value.metadata, Status.model_validate(item))
        except ValueError as exc:
            yield Unparsed(f"unreadable status: {exc}", item, value.metadata.phone_number_id)

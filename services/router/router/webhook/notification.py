"""Meta's webhook payload, read tolerantly: unknown fields are kept, unknown types never fail.

Shape (Meta's Cloud API webhook reference): ``{"object", "entry": [{"id": WABA_ID, "changes": [{"field",
"value"}]}]}``. One POST can carry several entries, each several changes, each several messages and
statuses: :func:`updates` walks all of them, not just the first. A piece that cannot be read (an entry, a
change, a message, a status) comes out as :class:`Unparsed` in its place; its neighbours still come out.

The models live beside this module, one module per part of the payload (``messages``, ``statuses``,
``fields``, …); import each from its own module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, InstanceOf, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from router.webhook.fields import (
    parse_field,
)
from router.webhook.messages import Contact, InboundMessage
from router.webhook.model import Lenient, LenientStr, Metadata, MetaModel, Readable, short_reason
from router.webhook.statuses import Status


@dataclass(frozen=True)
class Unparsed:
    """A piece of the payload that could not be read: kept with the reason, never dropped."""

    reason: str
    payload: dict[str, Any]
    phone_number_id: str | None = None


def _as_list(value: Any) -> list[Any]:
    # A lone object where Meta documents a list is read as a list of one: it is then read, or set aside, alone.
    return [] if value is None else value if isinstance(value, list) else [value]


def _as_payload(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"raw": item}


def _pieces(model: type[MetaModel], what: str) -> Any:
    """Read a list item by item: an unreadable item becomes an :class:`Unparsed` in its place."""

    def read(value: Any, _: ValidatorFunctionWrapHandler) -> list[Any]:
        read_items: list[Any] = []
        for item in _as_list(value):
            try:
                read_items.append(model.model_validate(item))
            except ValidationError as exc:
                reason = f"unreadable {what}: {short_reason(exc)}"
                read_items.append(Unparsed(reason, _as_payload(item), _pnid_in(item)))
        return read_items

    return WrapValidator(read)


def _pnid_in(item: Any) -> str | None:
    """The ``phone_number_id`` of a change that could not be read, so that it can still be routed to a tenant."""
    value = item.get("value") if isinstance(item, dict) else None
    metadata = value.get("metadata") if isinstance(value, dict) else None
    pnid = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return pnid if isinstance(pnid, str) else None


class Value(MetaModel):
    """The value of a ``messages`` change; messages and statuses are read one by one in :func:`updates`."""

    messaging_product: Lenient[str] = None
    metadata: Lenient[Metadata] = None
    contacts: Readable[Contact] = Field(default_factory=list)
    messages: Annotated[list[Any], BeforeValidator(_as_list)] = Field(default_factory=list)
    statuses: Annotated[list[Any], BeforeValidator(_as_list)] = Field(default_factory=list)


class Change(MetaModel):
    field: str
    value: dict[str, Any] = Field(default_factory=dict)


class Entry(MetaModel):
    id: LenientStr = ""  # the WABA id
    changes: Annotated[list[Change | InstanceOf[Unparsed]], _pieces(Change, "change")] = Field(default_factory=list)


class Notification(MetaModel):
    object: LenientStr = ""
    entry: Annotated[list[Entry | InstanceOf[Unparsed]], _pieces(Entry, "entry")] = Field(default_factory=list)


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
    # Meta's object as it came (unix-seconds timestamps included), so that a parked status can be replayed.
    raw: dict[str, Any] | None = None

    @property
    def replayable(self) -> dict[str, Any]:
        return self.raw if self.raw is not None else self.status.model_dump(mode="json")


@dataclass(frozen=True)
class FieldUpdate:
    """A change whose field is not ``messages``: account_update, message_template_status_update,
    smb_message_echoes, … — Meta's value kept whole; :attr:`parsed` is its typed reading."""

    waba_id: str
    field: str
    value: dict[str, Any]

    @cached_property
    def parsed(self) -> MetaModel | None:
        """The value as the model of its field (:data:`FIELD_VALUES`), or ``None`` for a field not known here."""
        return parse_field(self.field, self.value)


Update = MessageUpdate | StatusUpdate | FieldUpdate | Unparsed


def updates(notification: Notification) -> Iterator[Update]:
    """Every message and status of every change of every entry; a bad one does not hide the others."""
    for entry in notification.entry:
        if isinstance(entry, Unparsed):
            yield entry
            continue
        for change in entry.changes:
            if isinstance(change, Unparsed):
                yield change
            elif change.field != "messages":
                yield FieldUpdate(entry.id, change.field, change.value)
            else:
                yield from _messages_change(entry.id, change.value)


def _messages_change(waba_id: str, raw: dict[str, Any]) -> Iterator[Update]:
    value = Value.model_validate(raw)  # cannot fail: every field of Value is read leniently
    if value.metadata is None:
        yield Unparsed("change without metadata.phone_number_id", raw)
        return
    metadata, pnid = value.metadata, value.metadata.phone_number_id
    # A sender is known by wa_id, or only by user_id (BSUID) when they hide their number behind a username.
    contacts = {key: c for c in value.contacts for key in (c.wa_id, c.user_id) if key}
    for item in value.messages:
        try:
            message = InboundMessage.model_validate(item)
        except ValidationError as exc:
            yield Unparsed(f"unreadable message: {short_reason(exc)}", _as_payload(item), pnid)
            continue
        contact = contacts.get(message.from_) or contacts.get(message.from_user_id or "")
        yield MessageUpdate(waba_id, metadata, message, contact)
    for item in value.statuses:
        try:
            yield StatusUpdate(waba_id, metadata, Status.model_validate(item), item if isinstance(item, dict) else None)
        except ValidationError as exc:
            yield Unparsed(f"unreadable status: {short_reason(exc)}", _as_payload(item), pnid)

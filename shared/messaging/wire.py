"""How an envelope travels on AMQP, both directions: the one place bytes become an envelope and back.

Two forms. The **JSON form** (:func:`shared.messaging.broker.to_message`): the envelope as JSON in the body, what
every producer publishes. The **props form**, for the gateway's hot path: ``webhook.received`` with the exact
signed bytes as the body (never JSON inside JSON) and the envelope's fields in the message's properties and
headers — ``message_id`` the envelope id, ``type``, ``correlation_id``, ``timestamp`` (whole seconds, for tools),
``x-wamux-version``, ``x-wamux-received-at-us`` (the instant, exactly), and ``content_type``
``application/json``, or ``application/octet-stream`` when the bytes are not UTF-8. A message in that form says
so with ``x-wamux-envelope: props``; :func:`read_header` and :func:`read_envelope` read both forms alike, so a
consumer, the dead-letter tools and the tests see the same ``Envelope[WebhookReceived]`` whichever was sent.
Retry, dead-letter and replay copies keep the properties and headers, hence the form.
Both readers raise :class:`pydantic.ValidationError` for a delivery that is not a readable envelope.

A **group** is the props form of several webhooks at once (the gateway's group commit: what arrived within one
confirmed publish): their bytes one after another as the body, and three arrays in the headers, one entry per
webhook in arrival order — ``x-wamux-part-bytes`` (its length), ``x-wamux-part-ids`` (its envelope id) and
``x-wamux-part-received-at-us``. The group's own ``message_id`` names the delivery only. :func:`parts` gives any
props-form delivery as its webhooks (one for a plain one), :func:`read_parts` as their envelopes, and
:func:`part_properties` the plain props form of one of them (a group's webhook retried or dead-lettered alone).

The **lines form** is the JSON form of several envelopes of one type published together (a publisher's group:
:class:`shared.messaging.broker.Publisher` sends what it is asked to publish within one turn of the event loop,
for one exchange and routing key, as one message): each envelope's JSON on a line of its own (JSON Lines;
compact JSON holds no raw newline), ``content_type`` ``application/x-ndjson``, ``x-wamux-envelope: lines``, the
routing key as ``type`` and ``x-wamux-parts`` the number of lines. The delivery's ``message_id`` names it only;
each line is a whole envelope, read as a JSON-form body would be. :func:`is_group` is true for both kinds of group.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic
from pydantic import BaseModel, model_validator

from shared.contracts.envelope import Envelope, EnvelopeHeader, Payload
from shared.contracts.messages import WebhookReceived

FORM_HEADER = "x-wamux-envelope"
PROPS_FORM, LINES_FORM = "props", "lines"
PARTS_HEADER = "x-wamux-parts"  # a lines group's number of envelopes
VERSION_HEADER = "x-wamux-version"
RECEIVED_AT_HEADER = "x-wamux-received-at-us"  # microseconds since the Unix epoch, UTC
PART_BYTES_HEADER, PART_IDS_HEADER = "x-wamux-part-bytes", "x-wamux-part-ids"
PART_RECEIVED_AT_HEADER = "x-wamux-part-received-at-us"
JSON_TYPE, BYTES_TYPE, LINES_TYPE = "application/json", "application/octet-stream", "application/x-ndjson"
PERSISTENT = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LOW_62 = (1 << 62) - 1


class EnvelopeIds:
    """Envelope ids for a hot path, as text: UUIDs in version 4's layout whose 64 high bits are drawn once per
    instance and whose low 62 count up from a random start. Unique as ``uuid4`` is (two processes would have to
    draw the same 60 random bits), without 16 random bytes and a ``UUID`` object per id."""

    def __init__(self) -> None:
        high = f"{secrets.randbits(64) & ~(0xF << 12) | 4 << 12:016x}"  # the version nibble: 4
        self._prefix = f"{high[:8]}-{high[8:12]}-{high[12:]}-"
        self._next = secrets.randbits(62)

    def __call__(self) -> str:
        self._next = (self._next + 1) & _LOW_62
        low = f"{self._next | 1 << 63:016x}"  # the variant bits: 10 (RFC 4122)
        return f"{self._prefix}{low[:4]}-{low[4:]}"


def webhook_properties(
    body: bytes, *, envelope_id: str, received_at_us: int, correlation_id: str | None = None
) -> Basic.Properties:
    """The properties of a persistent ``webhook.received`` in the props form, ``body`` being its AMQP body as is.

    ``envelope_id`` is the envelope's UUID as text; ``correlation_id`` defaults to it (a webhook starts the chain).
    """
    return Basic.Properties(
        content_type=content_type(body),
        delivery_mode=PERSISTENT,
        message_id=envelope_id,
        correlation_id=correlation_id or envelope_id,
        message_type=WebhookReceived.TYPE,
        timestamp=datetime.fromtimestamp(received_at_us // 1_000_000, UTC),
        headers={FORM_HEADER: PROPS_FORM, VERSION_HEADER: 1, RECEIVED_AT_HEADER: received_at_us},
    )


class Part(NamedTuple):
    """One webhook as the gateway accepted it: the exact signed bytes, its envelope id, when it arrived (a tuple:
    the gateway makes one per request)."""

    body: bytes
    envelope_id: str
    received_at_us: int


def group_properties(parts: Sequence[Part], *, group_id: str) -> Basic.Properties:
    """The properties of one persistent delivery carrying ``parts`` (its body: their bytes joined, in order).
    A group of one is the plain props form of that webhook, byte for byte."""
    if len(parts) == 1:
        (part,) = parts
        return webhook_properties(part.body, envelope_id=part.envelope_id, received_at_us=part.received_at_us)
    first = parts[0]
    properties = webhook_properties(b"", envelope_id=group_id, received_at_us=first.received_at_us)
    if any(content_type(p.body) == BYTES_TYPE for p in parts):
        properties.content_type = BYTES_TYPE
    properties.headers = {
        **(properties.headers or {}),
        PART_BYTES_HEADER: [len(p.body) for p in parts],
        PART_IDS_HEADER: [p.envelope_id for p in parts],
        PART_RECEIVED_AT_HEADER: [p.received_at_us for p in parts],
    }
    return properties


def part_properties(part: Part) -> Basic.Properties:
    """The plain props form of one webhook of a group, to publish it alone (its body: ``part.body``)."""
    return webhook_properties(part.body, envelope_id=part.envelope_id, received_at_us=part.received_at_us)


def lines_properties(first: Basic.Properties, count: int, *, group_id: str) -> Basic.Properties:
    """The properties of one persistent delivery in the lines form carrying ``count`` JSON-form envelopes, the first
    of them published with ``first`` (its type and timestamp are the group's)."""
    return Basic.Properties(
        content_type=LINES_TYPE,
        delivery_mode=PERSISTENT,
        message_id=group_id,
        message_type=first.message_type,
        timestamp=first.timestamp,
        headers={FORM_HEADER: LINES_FORM, PARTS_HEADER: count},
    )


def is_lines(message: AbstractIncomingMessage) -> bool:
    return _text((message.headers or {}).get(FORM_HEADER)) == LINES_FORM


def lines(message: AbstractIncomingMessage) -> list[bytes]:
    """The JSON-form envelopes of a lines group, each as the body of a plain delivery of it would be."""
    return message.body.split(b"\n")


class _Group(BaseModel):
    """A group's part headers, checked against its body: a delivery that does not add up is unreadable."""

    sizes: list[int]
    ids: list[str]
    received_at_us: list[int]
    body_bytes: int

    @model_validator(mode="after")
    def _adds_up(self) -> _Group:
        if not self.sizes or not (len(self.sizes) == len(self.ids) == len(self.received_at_us)):
            raise ValueError("a group's part headers must be non-empty arrays of one length")
        if any(n < 0 for n in self.sizes) or sum(self.sizes) != self.body_bytes:
            raise ValueError("a group's part sizes must add up to its body")
        return self


def is_group(message: AbstractIncomingMessage) -> bool:
    """Several envelopes in one delivery: webhooks of the gateway's group commit, or a publisher's lines group."""
    return is_lines(message) or (is_props_form(message) and PART_BYTES_HEADER in (message.headers or {}))


def is_webhook_group(message: AbstractIncomingMessage) -> bool:
    return is_props_form(message) and PART_BYTES_HEADER in (message.headers or {})


def parts(message: AbstractIncomingMessage) -> list[Part]:
    """The webhooks a props-form delivery carries, in arrival order: one unless it is a group."""
    headers = message.headers or {}
    if not is_webhook_group(message):
        received_us = headers.get(RECEIVED_AT_HEADER)
        stamp = received_us if isinstance(received_us, int) else 0
        return [Part(message.body, str(message.message_id), stamp)]
    group = _Group.model_validate(
        {
            "sizes": headers.get(PART_BYTES_HEADER),
            "ids": [_text(i) for i in ids] if isinstance(ids := headers.get(PART_IDS_HEADER), list) else None,
            "received_at_us": headers.get(PART_RECEIVED_AT_HEADER),
            "body_bytes": len(message.body),
        }
    )
    found, start = [], 0
    for size, envelope_id, received_us in zip(group.sizes, group.ids, group.received_at_us, strict=True):
        found.append(Part(message.body[start : start + size], envelope_id, received_us))
        start += size
    return found


def read_parts(message: AbstractIncomingMessage, model: type[Payload]) -> list[Envelope[Any]]:
    """Each envelope of a delivery (each webhook of a props-form one, each line of a lines group) as a plain delivery
    of it would read."""
    if is_lines(message):
        return [Envelope[model].model_validate_json(line) for line in lines(message)]  # type: ignore[valid-type]
    if not is_group(message):
        return [read_envelope(message, model)]
    header = _header_fields(message)
    return [_part_envelope(part, header, model) for part in parts(message)]


def _part_envelope(part: Part, header: dict[str, Any], model: type[Payload]) -> Envelope[Any]:
    payload = _payload(part.body, part.received_at_us)
    fields = header | {"id": part.envelope_id, "correlation_id": part.envelope_id}
    fields |= {"occurred_at": payload.get("received_at"), "data": payload}
    return Envelope[model].model_validate(fields)  # type: ignore[valid-type]


def content_type(body: bytes) -> str:
    try:
        body.decode()
        return JSON_TYPE  # what Meta declares; whether it parses is the router's question
    except UnicodeDecodeError:
        return BYTES_TYPE


def is_props_form(message: AbstractIncomingMessage) -> bool:
    return _text((message.headers or {}).get(FORM_HEADER)) == PROPS_FORM


def read_header(message: AbstractIncomingMessage) -> EnvelopeHeader:
    """The envelope without its payload: enough to pick the payload's model by ``type``."""
    if is_props_form(message):
        return EnvelopeHeader.model_validate(_header_fields(message))
    return EnvelopeHeader.model_validate_json(message.body)


def read_envelope(message: AbstractIncomingMessage, model: type[Payload]) -> Envelope[Any]:
    """The whole envelope, its payload validated as ``model``; a group is several: :func:`read_parts`."""
    if is_webhook_group(message):
        parts(message)  # a group whose part headers do not add up: ValidationError, as for any unreadable one
        raise ValueError("a group of webhooks is read with read_parts")
    if is_lines(message):
        raise ValueError("a lines group is read with read_parts")
    if is_props_form(message):
        fields = _header_fields(message)
        payload = _props_payload(message)
        fields |= {"occurred_at": payload.get("received_at"), "data": payload}
        return Envelope[model].model_validate(fields)  # type: ignore[valid-type]
    envelope: Envelope[Any] = Envelope[model].model_validate_json(message.body)  # type: ignore[valid-type]
    return envelope


def as_json(message: AbstractIncomingMessage) -> Any:
    """The envelope as its JSON form would carry it, whichever form it came in (for tools and test taps); a
    group's, each of its webhooks: :func:`as_json_parts`."""
    if is_props_form(message):
        return read_envelope(message, WebhookReceived).model_dump(mode="json")
    return json.loads(message.body)


def as_json_parts(message: AbstractIncomingMessage) -> list[Any]:
    """Every envelope a delivery carries, as JSON forms: one, each webhook of a group, each line of a lines group."""
    if is_lines(message):
        return [json.loads(line) for line in lines(message)]
    if is_group(message):
        return [e.model_dump(mode="json") for e in read_parts(message, WebhookReceived)]
    return [as_json(message)]


def _header_fields(message: AbstractIncomingMessage) -> dict[str, Any]:
    headers = message.headers or {}
    return {
        "id": message.message_id,
        "type": message.type,
        "version": headers.get(VERSION_HEADER, 1),
        "tenant_id": _text(headers.get("tenant_id")) or None,
        "correlation_id": message.correlation_id,
    }


def _props_payload(message: AbstractIncomingMessage) -> dict[str, Any]:
    """The ``webhook.received`` payload that the JSON form would have carried for these bytes."""
    received_us = (message.headers or {}).get(RECEIVED_AT_HEADER)
    return _payload(message.body, received_us if isinstance(received_us, int) else None)


def _payload(body: bytes, received_us: int | None) -> dict[str, Any]:
    received_at = _EPOCH + timedelta(microseconds=received_us) if received_us is not None else None
    try:
        return {"body": body.decode(), "received_at": received_at}
    except UnicodeDecodeError:  # application/octet-stream: kept byte for byte, as the JSON form keeps it
        text = body.decode(errors="replace")
        return {"body": text, "body_base64": base64.b64encode(body).decode(), "received_at": received_at}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None

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
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from shared.contracts.envelope import Envelope, EnvelopeHeader, Payload
from shared.contracts.messages import WebhookReceived

FORM_HEADER = "x-wamux-envelope"
PROPS_FORM = "props"
VERSION_HEADER = "x-wamux-version"
RECEIVED_AT_HEADER = "x-wamux-received-at-us"  # microseconds since the Unix epoch, UTC
JSON_TYPE, BYTES_TYPE = "application/json", "application/octet-stream"
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
    try:
        body.decode()
        content_type = JSON_TYPE  # what Meta declares; whether it parses is the router's question
    except UnicodeDecodeError:
        content_type = BYTES_TYPE
    return Basic.Properties(
        content_type=content_type,
        delivery_mode=PERSISTENT,
        message_id=envelope_id,
        correlation_id=correlation_id or envelope_id,
        message_type=WebhookReceived.TYPE,
        timestamp=datetime.fromtimestamp(received_at_us // 1_000_000, UTC),
        headers={FORM_HEADER: PROPS_FORM, VERSION_HEADER: 1, RECEIVED_AT_HEADER: received_at_us},
    )


def is_props_form(message: AbstractIncomingMessage) -> bool:
    return _text((message.headers or {}).get(FORM_HEADER)) == PROPS_FORM


def read_header(message: AbstractIncomingMessage) -> EnvelopeHeader:
    """The envelope without its payload: enough to pick the payload's model by ``type``."""
    if is_props_form(message):
        return EnvelopeHeader.model_validate(_header_fields(message))
    return EnvelopeHeader.model_validate_json(message.body)


def read_envelope(message: AbstractIncomingMessage, model: type[Payload]) -> Envelope[Any]:
    """The whole envelope, its payload validated as ``model``."""
    if is_props_form(message):
        fields = _header_fields(message)
        payload = _props_payload(message)
        fields |= {"occurred_at": payload.get("received_at"), "data": payload}
        return Envelope[model].model_validate(fields)  # type: ignore[valid-type]
    envelope: Envelope[Any] = Envelope[model].model_validate_json(message.body)  # type: ignore[valid-type]
    return envelope


def as_json(message: AbstractIncomingMessage) -> Any:
    """The envelope as its JSON form would carry it, whichever form it came in (for tools and test taps)."""
    if is_props_form(message):
        return read_envelope(message, WebhookReceived).model_dump(mode="json")
    return json.loads(message.body)


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
    received_at = _EPOCH + timedelta(microseconds=received_us) if isinstance(received_us, int) else None
    try:
        return {"body": message.body.decode(), "received_at": received_at}
    except UnicodeDecodeError:  # application/octet-stream: kept byte for byte, as the JSON form keeps it
        text = message.body.decode(errors="replace")
        return {"body": text, "body_base64": base64.b64encode(message.body).decode(), "received_at": received_at}


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None

"""Both wire forms, through AMQP's own encoding: what a producer writes is what a consumer reads."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aio_pika import IncomingMessage
from aiormq.abc import DeliveredMessage
from pamqp import frame
from pamqp.commands import Basic
from pamqp.header import ContentHeader
from pydantic import ValidationError

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageSent, WebhookReceived
from shared.messaging import wire
from shared.messaging.broker import to_message

NOTIFICATION = '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}],"nombre":"Ana María"}'
RECEIVED_AT = datetime(2026, 12, 2, 9, 14, 53, 123456, tzinfo=UTC)
RECEIVED_AT_US = int(RECEIVED_AT.timestamp()) * 1_000_000 + RECEIVED_AT.microsecond


def delivered(body: bytes, properties: Basic.Properties) -> IncomingMessage:
    """The message as a consumer receives it: its properties marshalled to AMQP frames and read back."""
    encoded = frame.marshal(ContentHeader(0, len(body), properties), 1)
    _, _, header = frame.unmarshal(encoded)
    assert isinstance(header, ContentHeader)
    deliver = Basic.Deliver(consumer_tag="t", delivery_tag=1, exchange="wamux.events", routing_key="webhook.received")
    return IncomingMessage(DeliveredMessage(deliver, header, body, None), no_ack=True)  # type: ignore[arg-type]


def props_form(body: bytes, envelope_id: str | None = None) -> IncomingMessage:
    envelope_id = envelope_id or str(uuid.uuid4())
    return delivered(body, wire.webhook_properties(body, envelope_id=envelope_id, received_at_us=RECEIVED_AT_US))


def test_a_utf8_webhook_in_the_props_form_reads_as_the_envelope_the_json_form_carries() -> None:
    envelope_id = str(uuid.uuid4())
    message = props_form(NOTIFICATION.encode(), envelope_id)
    assert message.body == NOTIFICATION.encode() and message.content_type == "application/json"
    assert message.delivery_mode == 2 and message.timestamp == RECEIVED_AT.replace(microsecond=0)

    envelope = wire.read_envelope(message, WebhookReceived)

    json_form = wrap(
        WebhookReceived(body=NOTIFICATION, received_at=RECEIVED_AT),
        correlation_id=envelope_id,
        id=uuid.UUID(envelope_id),
        occurred_at=RECEIVED_AT,
    )
    assert envelope == json_form
    assert wire.read_envelope(delivered(*_json_message(json_form)), WebhookReceived) == json_form
    header = wire.read_header(message)
    assert (str(header.id), header.type, header.version, header.tenant_id) == (envelope_id, "webhook.received", 1, None)
    assert header.correlation_id == envelope_id


def test_bytes_that_are_not_utf8_travel_as_octets_and_read_back_byte_for_byte() -> None:
    raw = b'{"object": "whatsapp_business_account", "x": "\xff\xfe"}'
    message = props_form(raw)
    assert message.body == raw and message.content_type == "application/octet-stream"

    received = wire.read_envelope(message, WebhookReceived).data

    assert received.body_base64 is not None and base64.b64decode(received.body_base64) == raw
    assert received.body == raw.decode(errors="replace") and received.received_at == RECEIVED_AT


def test_the_json_form_still_reads_and_as_json_gives_the_same_document_for_both_forms() -> None:
    sent = wrap(_sent(), correlation_id="c-1", tenant_id=uuid.uuid4())
    message = delivered(*_json_message(sent))
    assert wire.read_envelope(message, MessageSent) == sent
    assert wire.read_header(message).tenant_id == sent.tenant_id
    assert wire.as_json(message) == json.loads(sent.model_dump_json())

    webhook = props_form(NOTIFICATION.encode())
    document = wire.as_json(webhook)
    assert document["type"] == "webhook.received" and document["data"]["body"] == NOTIFICATION


def test_a_props_form_without_its_fields_or_read_as_another_payload_is_a_validation_error() -> None:
    body = NOTIFICATION.encode()
    properties = wire.webhook_properties(body, envelope_id=str(uuid.uuid4()), received_at_us=RECEIVED_AT_US)
    properties.message_id = None
    with pytest.raises(ValidationError):
        wire.read_header(delivered(body, properties))
    with pytest.raises(ValidationError):
        wire.read_envelope(props_form(body), MessageSent)
    with pytest.raises(ValidationError):  # not an envelope at all, and not marked as the props form
        wire.read_header(delivered(body, Basic.Properties(content_type="application/json")))


def test_envelope_ids_are_distinct_version_4_uuids_and_differ_between_sources() -> None:
    first, second = wire.EnvelopeIds(), wire.EnvelopeIds()
    ids = [first() for _ in range(10_000)] + [second() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for text in (ids[0], ids[-1]):
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def _json_message(envelope: Envelope[Any]) -> tuple[bytes, Basic.Properties]:
    message = to_message(envelope)
    return message.body, message.properties


def _sent() -> MessageSent:
    return MessageSent(
        client_id=uuid.uuid4(),
        send_id=uuid.uuid4(),
        phone_number_id="100000000000001",
        to="573001112233",
        wamid="wamid.HBgMNTczMDAxMTEyMjMzFQIAERgSQTFCM0M0RDVFNkY3",
        text="Hola Ana",
        sent_at=RECEIVED_AT,
    )


def _group(*bodies: bytes) -> tuple[list[wire.Part], IncomingMessage]:
    parts = [wire.Part(body, str(uuid.uuid4()), RECEIVED_AT_US + i) for i, body in enumerate(bodies)]
    return parts, delivered(b"".join(bodies), wire.group_properties(parts, group_id=str(uuid.uuid4())))


def test_a_group_reads_back_as_each_webhook_exactly_as_a_plain_delivery_of_it_would() -> None:
    raw = b'{"object": "whatsapp_business_account", "x": "\xff"}'
    parts, message = _group(NOTIFICATION.encode(), b"", raw, b'{"entry":[]}')
    assert wire.is_group(message) and message.content_type == "application/octet-stream"  # one part is not UTF-8

    assert wire.parts(message) == parts  # the exact bytes of each, its id and its instant, in arrival order
    envelopes = wire.read_parts(message, WebhookReceived)
    for part, envelope in zip(parts, envelopes, strict=True):
        alone = delivered(part.body, wire.part_properties(part))  # the one webhook published by itself
        assert not wire.is_group(alone) and alone.body == part.body
        assert envelope == wire.read_envelope(alone, WebhookReceived)
        assert str(envelope.id) == envelope.correlation_id == part.envelope_id
    assert envelopes[2].data.body_base64 is not None and base64.b64decode(envelopes[2].data.body_base64) == raw
    assert [e["data"]["body"] for e in wire.as_json_parts(message)] == [e.data.body for e in envelopes]
    with pytest.raises(ValueError, match="read_parts"):
        wire.read_envelope(message, WebhookReceived)  # never the joined bytes as one webhook


def test_a_group_of_one_is_the_plain_props_form_byte_for_byte() -> None:
    part = wire.Part(NOTIFICATION.encode(), str(uuid.uuid4()), RECEIVED_AT_US)
    grouped = delivered(part.body, wire.group_properties([part], group_id=str(uuid.uuid4())))
    assert not wire.is_group(grouped) and wire.parts(grouped) == [part]
    assert grouped.headers == props_form(part.body, part.envelope_id).headers
    assert grouped.message_id == part.envelope_id and wire.as_json_parts(grouped) == [wire.as_json(grouped)]


@pytest.mark.parametrize(
    "headers",
    [
        {wire.PART_BYTES_HEADER: [5, 5]},  # sizes that do not add up to the body
        {wire.PART_IDS_HEADER: ["only-one"]},  # arrays of different lengths
        {wire.PART_BYTES_HEADER: []},
    ],
)
def test_a_group_whose_part_headers_do_not_match_its_body_is_unreadable(headers: dict[str, Any]) -> None:
    parts, message = _group(b'{"a":1}', b'{"b":2}')
    properties = wire.group_properties(parts, group_id=str(uuid.uuid4()))
    properties.headers = {**(properties.headers or {}), **headers}
    broken = delivered(message.body, properties)
    with pytest.raises(ValidationError):
        wire.parts(broken)
    with pytest.raises(ValidationError):
        wire.read_parts(broken, WebhookReceived)

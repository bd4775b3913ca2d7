"""The JSON form's AMQP properties, made as pamqp's at once (``broker.json_properties``), say what the aio-pika
message they replaced said: a consumer reads the same envelope either way."""

from __future__ import annotations

import uuid

import pytest

from shared.contracts.envelope import wrap
from shared.contracts.messages import MarkRead
from shared.messaging.broker import json_properties, to_message

FIELDS = ("content_type", "delivery_mode", "message_id", "correlation_id", "message_type", "timestamp", "headers")


@pytest.mark.parametrize("tenant", [uuid.uuid4(), None])
@pytest.mark.parametrize("correlation_id", ["crm-42", ""])
def test_they_carry_what_an_aio_pika_message_carried(tenant: uuid.UUID | None, correlation_id: str) -> None:
    envelope = wrap(
        MarkRead(client_id=uuid.uuid4(), phone_number_id="106540352242922", wamid="wamid.A"),
        tenant_id=tenant,
        correlation_id=correlation_id,
    )
    made, wrapped = json_properties(envelope), to_message(envelope).properties

    assert {f: getattr(made, f) for f in FIELDS} == {f: getattr(wrapped, f) for f in FIELDS}
    assert made.delivery_mode == 2  # persistent
    assert made.message_id == str(envelope.id) and made.message_type == "message.mark_read"
    assert made.headers == {"tenant_id": str(tenant) if tenant else ""}
    assert made.correlation_id == (correlation_id or None)

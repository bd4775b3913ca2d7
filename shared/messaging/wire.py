"""How an envelope is read off an AMQP delivery: the one place a consumer turns bytes into an envelope.

Today every message is the envelope as JSON in the body (:func:`shared.messaging.broker.to_message`). A producer
on the hot path may carry the envelope's fields in the message's properties and headers and the payload's own
bytes as the body (the gateway's ``webhook.received``: the exact signed bytes, never JSON inside JSON); this module
is where such a form is recognised, so that the consumer, the dead-letter tools and the tests read both alike.
Both functions raise :class:`pydantic.ValidationError` for a delivery that is not a readable envelope.
"""

from __future__ import annotations

from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from shared.contracts.envelope import Envelope, EnvelopeHeader, Payload


def read_header(message: AbstractIncomingMessage) -> EnvelopeHeader:
    """The envelope without its payload: enough to pick the payload's model by ``type``."""
    return EnvelopeHeader.model_validate_json(message.body)


def read_envelope(message: AbstractIncomingMessage, model: type[Payload]) -> Envelope[Any]:
    """The whole envelope, its payload validated as ``model``."""
    envelope: Envelope[Any] = Envelope[model].model_validate_json(message.body)  # type: ignore[valid-type]
    return envelope

"""What one dead letter says (its envelope, why and when it died) and the copy of it a replay publishes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.contracts.envelope import EnvelopeHeader
from shared.messaging import wire
from shared.messaging.broker import persistent_copy
from shared.messaging.consumer import ATTEMPT_HEADER, DEAD_AT_HEADER, ERROR_HEADER

REPLAYED_AT_HEADER = "x-wamux-replayed-at"
# What RabbitMQ and the consumer recorded about the failure; a replayed message starts again without it.
_FAILURE_HEADERS = frozenset(
    {ERROR_HEADER, DEAD_AT_HEADER, "x-death", "x-delivery-count"}
    | {f"x-{when}-death-{what}" for when in ("first", "last") for what in ("reason", "queue", "exchange")}
)


@dataclass(frozen=True)
class DeadLetter:
    envelope_id: str | None
    type: str | None
    correlation_id: str | None
    tenant_id: str | None
    reason: str | None  # x-wamux-error, else RabbitMQ's own x-death reason (rejected, delivery_limit, …)
    attempt: int | None
    first_death_at: datetime | None
    deliveries: int  # times RabbitMQ has handed it out of the dead queue (each look counts)


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    try:
        envelope: EnvelopeHeader | None = wire.read_header(message)  # either form (shared/messaging/wire.py)
    except ValidationError:
        envelope = None  # not an envelope (that may be why it is here): the AMQP properties say what they can
    recorded = headers.get("x-death")  # RabbitMQ's own dead-letterings, most recent first
    deaths = [d for d in recorded if isinstance(d, dict)] if isinstance(recorded, list) else []
    times = [t for d in deaths if isinstance(t := d.get("time"), datetime)]
    ours = _text(headers.get(DEAD_AT_HEADER))  # set when our consumer dead-letters (no x-death then)
    if ours:
        times.append(datetime.fromisoformat(ours))
    attempt, deliveries = headers.get(ATTEMPT_HEADER), headers.get("x-delivery-count")
    return DeadLetter(
        envelope_id=str(envelope.id) if envelope else None,
        type=envelope.type if envelope else message.type,
        correlation_id=envelope.correlation_id if envelope else message.correlation_id,
        tenant_id=str(envelope.tenant_id) if envelope and envelope.tenant_id else _text(headers.get("tenant_id")),
        reason=_text(headers.get(ERROR_HEADER)) or (_text(deaths[0].get("reason")) if deaths else None),
        attempt=attempt if isinstance(attempt, int) else None,
        first_death_at=min(times) if times else None,
        deliveries=deliveries if isinstance(deliveries, int) else 0,
    )


def revived(message: AbstractIncomingMessage) -> aio_pika.Message:
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _FAILURE_HEADERS}
    return persistent_copy(message, {**headers, ATTEMPT_HEADER: 0, REPLAYED_AT_HEADER: datetime.now(UTC).isoformat()})


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value) if value else None

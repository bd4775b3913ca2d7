"""A group of webhooks (the gateway's group commit: ``shared.messaging.wire``) as one delivery per webhook.

The consumer splits a group as it arrives (:func:`split`): each webhook becomes a delivery of its own — the
bytes, envelope id and properties a plain publish of it would have (``wire.part_properties``) — and goes through
the ack policy as any delivery does: carried out, retried, dead-lettered, each alone. Acking such a delivery
counts it settled; the group is acked once every one of its webhooks is (carried out, or safely republished
alone to a retry queue or the dead-letter exchange). A delivery that asks for redelivery (``nack``, when a
republish failed) sends the whole group back: its other webhooks are carried out again, which changes nothing,
as for any redelivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.messaging import wire


class _Group:
    def __init__(self, message: AbstractIncomingMessage, parts: int):
        self.message, self.unsettled, self.returned = message, parts, False

    async def settled(self) -> None:
        self.unsettled -= 1
        if self.unsettled == 0 and not self.returned:
            await self.message.ack()

    async def send_back(self, requeue: bool) -> None:
        if not self.returned:
            self.returned = True
            await self.message.nack(requeue=requeue)


class PartDelivery:
    """One webhook of a group, as the consumer handles a delivery (the attributes it reads, ack and nack)."""

    def __init__(self, group: _Group, part: wire.Part):
        self._group = group
        properties = wire.part_properties(part)
        self.body: bytes = part.body
        self.content_type: str | None = properties.content_type
        self.message_id: str | None = properties.message_id
        self.correlation_id: str | None = properties.correlation_id
        self.type: str | None = properties.message_type
        self.timestamp: datetime | None = properties.timestamp
        # The group's own headers (an attempt count, if it was retried whole) under the webhook's own.
        group_headers = {k: v for k, v in (group.message.headers or {}).items() if not k.startswith("x-wamux-part-")}
        self.headers: dict[str, Any] = {**group_headers, **(properties.headers or {})}

    async def ack(self, multiple: bool = False) -> None:
        await self._group.settled()

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        await self._group.send_back(requeue)


def split(message: AbstractIncomingMessage) -> list[AbstractIncomingMessage]:
    """The deliveries to handle for ``message``: itself, or one per webhook of a readable group (a group whose
    headers do not add up stays whole: the consumer finds it unreadable and dead-letters it as it came)."""
    if not wire.is_group(message):
        return [message]
    try:
        parts = wire.parts(message)
    except ValidationError:
        return [message]
    group = _Group(message, len(parts))
    return [cast(AbstractIncomingMessage, PartDelivery(group, part)) for part in parts]

"""A group (``shared.messaging.wire``: the gateway's group of webhooks, a publisher's lines group of envelopes) as
one delivery per envelope.

The consumer splits a group as it arrives (:func:`split`): each envelope becomes a delivery of its own — the
bytes, envelope id and properties a plain publish of it would have (``wire.part_properties`` for a webhook; for a
line, its JSON as the body and the properties read from it when asked for) — and goes through the ack policy as
any delivery does: carried out, retried, dead-lettered, each alone. Acking such a delivery counts it settled; the
group is acked once every one of its envelopes is (carried out, or safely republished alone to a retry queue or
the dead-letter exchange). A delivery that asks for redelivery (``nack``, when a republish failed) sends the whole
group back: its other envelopes are carried out again, which changes nothing, as for any redelivery.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.contracts.envelope import EnvelopeHeader
from shared.messaging import wire


class _Group:
    def __init__(self, message: AbstractIncomingMessage, parts: int):
        self.message, self.unsettled, self.returned = message, parts, False

    @property
    def finished(self) -> bool:
        """Acked (every envelope settled) or sent back: nothing more of it goes to the broker."""
        return self.unsettled == 0 or self.returned

    async def settled(self) -> None:
        self.unsettled -= 1
        if self.unsettled == 0 and not self.returned:
            await self.message.ack()

    async def send_back(self, requeue: bool) -> None:
        if not self.returned:
            self.returned = True
            await self.message.nack(requeue=requeue)


class PartDelivery:
    """One envelope of a group, as the consumer handles a delivery (the attributes it reads, ack and nack)."""

    def __init__(self, group: _Group, body: bytes, content_type: str | None, headers: dict[str, Any]):
        self._group = group
        self.body = body
        self.content_type = content_type
        self.type: str | None = group.message.type
        self.headers = headers

    @property
    def group(self) -> AbstractIncomingMessage:
        """The delivery that carried it: the one the broker knows (its tag, its channel)."""
        return self._group.message

    @property
    def group_finished(self) -> bool:
        return self._group.finished

    async def ack(self, multiple: bool = False) -> None:
        await self._group.settled()

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        await self._group.send_back(requeue)


class WebhookDelivery(PartDelivery):
    """One webhook of the gateway's group, with the properties a plain publish of it has."""

    def __init__(self, group: _Group, part: wire.Part):
        properties = wire.part_properties(part)
        # The group's own headers (an attempt count, if it was retried whole) under the webhook's own.
        group_headers = {k: v for k, v in (group.message.headers or {}).items() if not k.startswith("x-wamux-part-")}
        super().__init__(group, part.body, properties.content_type, {**group_headers, **(properties.headers or {})})
        self.message_id: str | None = properties.message_id
        self.correlation_id: str | None = properties.correlation_id
        self.type = properties.message_type
        self.timestamp: datetime | None = properties.timestamp


class LineDelivery(PartDelivery):
    """One envelope of a lines group: its JSON as the body, in the JSON form, under the group's headers. Its id and
    correlation id are read from that JSON only when asked for (a retry or a dead letter of it alone, which copies
    them into its properties), never on the way to its handler, which reads the body anyway."""

    def __init__(self, group: _Group, line: bytes):
        headers = {k: v for k, v in (group.message.headers or {}).items() if k not in _LINES_HEADERS}
        super().__init__(group, line, wire.JSON_TYPE, headers)
        self.timestamp: datetime | None = group.message.timestamp

    @functools.cached_property
    def _header(self) -> EnvelopeHeader | None:
        try:
            return EnvelopeHeader.model_validate_json(self.body)
        except ValidationError:
            return None

    @property
    def message_id(self) -> str | None:
        return str(self._header.id) if self._header is not None else None

    @property
    def correlation_id(self) -> str | None:
        return self._header.correlation_id if self._header is not None else None


_LINES_HEADERS = (wire.FORM_HEADER, wire.PARTS_HEADER)


def split(message: AbstractIncomingMessage) -> list[AbstractIncomingMessage]:
    """The deliveries to handle for ``message``: itself, one per line of a lines group, or one per webhook of a
    readable group of webhooks (one whose headers do not add up stays whole: the consumer finds it unreadable and
    dead-letters it as it came)."""
    if wire.is_lines(message):
        found = wire.lines(message)
        group = _Group(message, len(found))
        return [cast(AbstractIncomingMessage, LineDelivery(group, line)) for line in found]
    if not wire.is_group(message):
        return [message]
    try:
        parts = wire.parts(message)
    except ValidationError:
        return [message]
    group = _Group(message, len(parts))
    return [cast(AbstractIncomingMessage, WebhookDelivery(group, part)) for part in parts]

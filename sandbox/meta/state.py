"""What the emulator remembers: accepted messages, registered numbers, open conversations."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.meta.ids import new_conversation_id, placeholder_waba_id

# Enough for any test or benchmark run, bounded so a long-running sandbox does not grow without end.
_OUTBOX_LIMIT = 50_000
# Meta's conversations (and customer-service windows) last 24 hours from their opening.
CONVERSATION_TTL = timedelta(hours=24)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class OutboxEntry:
    wamid: str
    phone_number_id: str
    to: str
    type: str
    text: str | None
    request: dict[str, Any]
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "wamid": self.wamid,
            "phone_number_id": self.phone_number_id,
            "to": self.to,
            "type": self.type,
            "text": self.text,
            "request": self.request,
            "received_at": iso(self.received_at),
        }


class Outbox:
    def __init__(self) -> None:
        self._entries: deque[OutboxEntry] = deque(maxlen=_OUTBOX_LIMIT)

    def add(self, entry: OutboxEntry) -> None:
        self._entries.append(entry)

    def select(
        self, phone_number_id: str | None = None, to: str | None = None, since: datetime | None = None
    ) -> list[OutboxEntry]:
        return [
            e
            for e in self._entries
            if (phone_number_id is None or e.phone_number_id == phone_number_id)
            and (to is None or e.to == to)
            and (since is None or e.received_at >= since)
        ]

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class BusinessNumber:
    phone_number_id: str
    display_phone_number: str
    waba_id: str

    def to_json(self) -> dict[str, str]:
        return {
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "waba_id": self.waba_id,
        }


class NumberRegistry:
    def __init__(self) -> None:
        self._numbers: dict[str, BusinessNumber] = {}

    def register(self, number: BusinessNumber) -> None:
        self._numbers[number.phone_number_id] = number

    def get(self, phone_number_id: str) -> BusinessNumber:
        """The registered number, or placeholders so unregistered numbers still get webhooks."""
        known = self._numbers.get(phone_number_id)
        if known is not None:
            return known
        return BusinessNumber(phone_number_id, "15550000000", placeholder_waba_id(phone_number_id))

    def all(self) -> list[BusinessNumber]:
        return list(self._numbers.values())


@dataclass(frozen=True)
class Conversation:
    id: str
    expires_at: datetime


class Conversations:
    """One conversation per (business number, customer), reused until 24 h after it opened."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], Conversation] = {}

    def current(self, phone_number_id: str, wa_id: str, now: datetime) -> Conversation:
        key = (phone_number_id, wa_id)
        conversation = self._open.get(key)
        if conversation is None or conversation.expires_at <= now:
            conversation = Conversation(new_conversation_id(), now + CONVERSATION_TTL)
            self._open[key] = conversation
        return conversation


@dataclass(frozen=True)
class ReadMark:
    """A mark-as-read call, kept so tests can check the gateway acknowledges what it received."""

    phone_number_id: str
    message_id: str
    typing_indicator: bool
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "phone_number_id": self.phone_number_id,
            "message_id": self.message_id,
            "typing_indicator": self.typing_indicator,
            "received_at": iso(self.received_at),
        }

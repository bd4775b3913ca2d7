"""``message.send``'s optional ``sent_by``: who wrote a CRM's message, bounded, and carried on ``message.sent``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.envelope import Envelope
from shared.contracts.messages import SendMessage, SentBy

COMMAND: dict[str, Any] = {
    "client_id": str(uuid.UUID(int=1)),
    "phone_number_id": "1",
    "to": "573001112233",
    "text": "Hola",
}


def test_a_command_written_before_sent_by_existed_is_still_accepted() -> None:
    envelope = Envelope[SendMessage].model_validate({"type": "message.send", "correlation_id": "c", "data": COMMAND})
    assert envelope.data.sent_by is None


def test_a_person_s_name_is_kept_without_its_surrounding_blanks() -> None:
    command = SendMessage.model_validate({**COMMAND, "sent_by": {"kind": "person", "name": "  Laura Gómez "}})
    assert command.sent_by == SentBy(kind="person", name="Laura Gómez")
    assert SendMessage.model_validate({**COMMAND, "sent_by": {"kind": "system"}}).sent_by == SentBy(kind="system")


@pytest.mark.parametrize(
    "sent_by",
    [
        {"kind": "agent", "name": "Laura"},  # only person or system
        {"kind": "person", "name": "L" * 81},  # a name, not a paragraph
        {"kind": "person", "name": "   "},  # blank is not a name: leave it out
        {"kind": "person", "name": "Laura", "email": "laura@example.com"},  # strict, as every command
        {"name": "Laura"},
    ],
)
def test_sent_by_refuses_what_is_not_a_kind_and_a_short_name(sent_by: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SendMessage.model_validate({**COMMAND, "sent_by": sent_by})

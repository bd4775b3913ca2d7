"""The decisions of a conversation that opens — free or paid, what is left, when the CRM hears the quota is
gone — without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from billing.numbers import Number
from billing.quota import CONVERSATION_WINDOW, conversation_opened, quota_exhausted
from billing.store import Usage
from shared.contracts.messages import MessageSent

NOVEMBER = date(2026, 11, 1)
AT = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


def number(free_quota: int = 3, policy: str = "count_paid") -> Number:
    return Number(uuid.uuid4(), "106540352242922", free_quota, "America/Bogota", policy)  # type: ignore[arg-type]


def sent(number: Number, to: str = "573001112233", at: datetime = AT) -> MessageSent:
    return MessageSent(
        client_id=number.client_id,
        send_id=uuid.uuid4(),
        phone_number_id=number.phone_number_id,
        to=to,
        wamid="wamid.out1",
        text="hola",
        sent_at=at,
    )


def test_a_window_is_the_customer_s_for_24_hours_from_the_business_message_that_opens_it() -> None:
    line = number()
    opened = conversation_opened(line, Usage(0, 0), sent(line, to="573009998877"), NOVEMBER)
    assert (opened.wa_id, opened.opened_at, opened.expires_at) == ("573009998877", AT, AT + timedelta(hours=24))
    assert CONVERSATION_WINDOW == timedelta(hours=24)
    assert (opened.client_id, opened.phone_number_id, opened.month) == (line.client_id, line.phone_number_id, NOVEMBER)


@pytest.mark.parametrize(
    ("free_used", "free", "free_remaining"),
    [(0, True, 2), (1, True, 1), (2, True, 0), (3, False, 0), (7, False, 0)],
)
def test_windows_are_free_while_the_month_s_free_conversations_last_then_paid(
    free_used: int, free: bool, free_remaining: int
) -> None:
    line = number(free_quota=3)
    opened = conversation_opened(line, Usage(conversations=free_used, free_used=free_used), sent(line), NOVEMBER)
    assert (opened.free, opened.free_remaining) == (free, free_remaining)


def test_paid_windows_do_not_use_free_ones_counted_by_conversations() -> None:
    line = number(free_quota=3)
    # Ten conversations this month, only one of them free (the number's quota was raised mid-month).
    opened = conversation_opened(line, Usage(conversations=10, free_used=1), sent(line), NOVEMBER)
    assert (opened.free, opened.free_remaining) == (True, 1)


@pytest.mark.parametrize("policy", ["count_paid", "pause_ai"])
def test_the_window_that_uses_the_last_free_conversation_tells_the_crm_with_the_client_s_policy(policy: str) -> None:
    line = number(free_quota=3, policy=policy)
    opened = conversation_opened(line, Usage(2, 2), sent(line), NOVEMBER)
    exhausted = quota_exhausted(line, opened)
    assert exhausted is not None
    assert (exhausted.client_id, exhausted.phone_number_id, exhausted.month) == (
        line.client_id,
        line.phone_number_id,
        NOVEMBER,
    )
    assert (exhausted.free_quota, exhausted.policy) == (3, policy)


@pytest.mark.parametrize("free_used", [0, 1, 3, 4])
def test_no_other_window_says_the_quota_is_exhausted(free_used: int) -> None:
    line = number(free_quota=3)
    assert quota_exhausted(line, conversation_opened(line, Usage(free_used, free_used), sent(line), NOVEMBER)) is None

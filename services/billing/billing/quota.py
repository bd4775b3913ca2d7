"""The decisions of a conversation that opens: free or paid, what is left, and whether the CRM hears the quota
is gone. Pure: what the number, its month's usage and the message say, nothing read or written here."""

from __future__ import annotations

from datetime import date, timedelta

from billing.numbers import Number
from billing.store import Usage
from shared.contracts.messages import ConversationOpened, MessageSent, QuotaExhausted

# Meta's conversation: 24 hours from the business message that opens it.
CONVERSATION_WINDOW = timedelta(hours=24)


def conversation_opened(number: Number, usage: Usage, sent: MessageSent, month: date) -> ConversationOpened:
    """The window ``sent`` opens: free while the month's free conversations last, else paid."""
    free = usage.free_used < number.free_quota
    return ConversationOpened(
        client_id=number.client_id,
        phone_number_id=sent.phone_number_id,
        wa_id=sent.to,
        opened_at=sent.sent_at,
        expires_at=sent.sent_at + CONVERSATION_WINDOW,
        month=month,
        free=free,
        free_remaining=max(number.free_quota - usage.free_used - (1 if free else 0), 0),
    )


def quota_exhausted(number: Number, opened: ConversationOpened) -> QuotaExhausted | None:
    """News only for the window that used the last free conversation; None for every other one."""
    if not (opened.free and opened.free_remaining == 0):
        return None
    return QuotaExhausted(
        client_id=number.client_id,
        phone_number_id=opened.phone_number_id,
        month=opened.month,
        free_quota=number.free_quota,
        policy=number.quota_policy,
    )

"""When a send waits, when it is sent again, and when it fails for good: the sender's decisions, pure (the
moment, Meta's answer and what the sender recorded go in; a :class:`Retry` or a verdict comes out)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sender.store import SendState
from shared.graph.errors import GraphError, TokenInvalid
from shared.messaging.consumer import Retry

# Meta's customer-service window: free-form messages only within 24 h of the customer's last message.
CUSTOMER_WINDOW = timedelta(hours=24)
TOKEN_RETRY_S = 600
# How long Meta's statuses get to report an attempt whose answer we lost, before we send again.
UNKNOWN_ATTEMPT_SETTLE = timedelta(minutes=2)
# A part of a long reply waits for the part before it, but not for ever (one dead-lettered would hold the rest).
PART_ORDER_WAIT = timedelta(minutes=10)


def window_closed(customer_last_message_at: datetime | None, now: datetime) -> bool:
    """Past the 24-hour window only a template may go (unknown: the caller vouched for it)."""
    return customer_last_message_at is not None and now - customer_last_message_at > CUSTOMER_WINDOW


def keeps_part_order(occurred_at: datetime, now: datetime) -> bool:
    """Whether a part still waits for the part before it (not once it has waited :data:`PART_ORDER_WAIT`)."""
    return now - occurred_at <= PART_ORDER_WAIT


def wait_for_previous_part(previous: SendState | None) -> Retry | None:
    """Meta keeps the order of what it accepted: a part goes once the part before it was sent or failed."""
    if previous is None or previous.state == "sending":
        return Retry("the previous part of this reply has not left yet", delay_s=1, counts=False)
    return None


def wait_for_unknown_attempt(previous: SendState, now: datetime) -> Retry | None:
    """An earlier attempt whose outcome was lost, with no status from Meta yet: wait for one a while (not a
    failure), then send again (None)."""
    if now - previous.started_at < UNKNOWN_ATTEMPT_SETTLE:
        return Retry("an earlier attempt's outcome is unknown: waiting for Meta's statuses", delay_s=30, counts=False)
    return None


def retry_after(error: GraphError) -> Retry | None:
    """A Graph error that may pass, as the retry to raise; None when it is permanent (``message.failed``).

    A rejected token is wrong for every number: the message is held (late retries, then the dead-letter queue,
    replayable) rather than failed. Retryable errors back off with jitter, so replicas do not retry in step.
    """
    if isinstance(error, TokenInvalid):
        return Retry(f"Graph token rejected: {error}", delay_s=TOKEN_RETRY_S)
    if error.retryable:
        return Retry(f"Graph: {error}", delay_s=error.retry_after_s * random.uniform(1.0, 2.0))
    return None

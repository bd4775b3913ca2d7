"""When a send waits, is sent again or fails for good, and the limits it keeps: the decisions, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sender import retries
from sender.limits import Limits
from sender.store import SendState
from shared.graph.errors import (
    AppRateLimited,
    GraphError,
    InvalidRequest,
    NumberNotRegistered,
    PairRateExceeded,
    ReEngagementRequired,
    SpamLimited,
    ThroughputExceeded,
    TokenInvalid,
    TransientGraphError,
    Undeliverable,
)

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_message_ago", "closed"),
    [
        (None, False),
        (timedelta(0), False),
        (timedelta(hours=23, minutes=59), False),
        (timedelta(hours=24), False),
        (timedelta(hours=24, seconds=1), True),
        (timedelta(days=3), True),
    ],
)
def test_a_free_form_reply_goes_only_inside_the_24_hour_customer_service_window(
    last_message_ago: timedelta | None, closed: bool
) -> None:
    last = NOW - last_message_ago if last_message_ago is not None else None
    assert retries.window_closed(last, NOW) is closed


def test_a_part_keeps_the_order_of_its_reply_for_ten_minutes_then_goes_anyway() -> None:
    assert retries.keeps_part_order(NOW - timedelta(minutes=10), NOW)
    assert not retries.keeps_part_order(NOW - timedelta(minutes=10, seconds=1), NOW)


@pytest.mark.parametrize("previous", [None, SendState("sending", NOW)])
def test_a_part_waits_while_the_part_before_it_has_not_left_without_counting_a_failure(
    previous: SendState | None,
) -> None:
    retry = retries.wait_for_previous_part(previous)
    assert retry is not None and "previous part" in str(retry)
    assert (retry.delay_s, retry.counts) == (1, False)


@pytest.mark.parametrize("state", ["sent", "failed"])
def test_a_part_goes_once_the_part_before_it_was_sent_or_failed_for_good(state: str) -> None:
    assert retries.wait_for_previous_part(SendState(state, NOW)) is None


def test_an_attempt_whose_outcome_was_lost_waits_two_minutes_for_meta_s_statuses_then_is_sent_again() -> None:
    recent = retries.wait_for_unknown_attempt(SendState("sending", NOW - timedelta(seconds=119)), NOW)
    assert recent is not None and (recent.delay_s, recent.counts) == (30, False)
    assert retries.wait_for_unknown_attempt(SendState("sending", NOW - timedelta(minutes=2)), NOW) is None


def test_a_rejected_token_holds_the_message_for_ten_minutes_and_counts_towards_the_dead_letter_queue() -> None:
    retry = retries.retry_after(TokenInvalid("Invalid OAuth access token", code=190, http_status=401))
    assert retry is not None and "token rejected" in str(retry)
    assert (retry.delay_s, retry.counts) == (retries.TOKEN_RETRY_S, True)


@pytest.mark.parametrize("error_class", [TransientGraphError, ThroughputExceeded, PairRateExceeded, AppRateLimited])
def test_retryable_meta_errors_back_off_from_meta_s_delay_with_jitter_up_to_twice_it(
    error_class: type[GraphError],
) -> None:
    delays = []
    for _ in range(50):
        retry = retries.retry_after(error_class("busy", code=1))
        assert retry is not None and retry.counts and "Graph: busy" in str(retry)
        assert retry.delay_s is not None
        delays.append(retry.delay_s)
    assert all(error_class.retry_after_s <= d <= 2 * error_class.retry_after_s for d in delays)
    assert len(set(delays)) > 1  # jittered: replicas do not retry in step


@pytest.mark.parametrize(
    "error_class",
    [ReEngagementRequired, Undeliverable, SpamLimited, NumberNotRegistered, InvalidRequest, GraphError],
)
def test_permanent_meta_errors_are_not_retried(error_class: type[GraphError]) -> None:
    assert retries.retry_after(error_class("no", code=131026)) is None


def test_idle_buckets_are_full_again_after_an_hour_or_twice_the_pair_burst_s_refill() -> None:
    assert Limits().full_after_s() == 3600.0  # 45 tokens at 1 per 6 s refill in 270 s
    assert Limits(pair_rate_per_s=1 / 6, pair_burst=1000).full_after_s() == pytest.approx(12000.0)

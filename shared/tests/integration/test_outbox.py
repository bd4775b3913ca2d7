"""The transactional outbox: events leave only after their transaction commits, and none is lost in between."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import WebhookParked
from shared.messaging import outbox
from shared.messaging.broker import Publisher
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap


def parked(reason: str) -> Envelope[WebhookParked]:
    return wrap(WebhookParked(reason=reason), id=derived_id("test", reason), correlation_id="c-outbox")


async def staged_ids(infra: Infrastructure, *envelopes: Envelope[WebhookParked]) -> list[str]:
    rows = await infra.pool.fetch("SELECT id FROM router.outbox WHERE id = ANY($1::uuid[])", [e.id for e in envelopes])
    return sorted(str(r["id"]) for r in rows)


@pytest.fixture
async def broken_publisher(infra: Infrastructure) -> AsyncIterator[Publisher]:
    publisher = await Publisher.open(infra.connection, infra.settings)
    await publisher.close()  # as if the broker had gone away
    yield publisher


async def test_staged_events_wait_for_the_commit_and_a_rollback_publishes_nothing(
    infra: Infrastructure, tap: Tap
) -> None:
    kept, dropped = parked("kept"), parked("rolled back")
    async with infra.pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                await outbox.stage(conn, "router", [dropped])
                raise RuntimeError("the effect failed")
        async with conn.transaction():
            await outbox.stage(conn, "router", [kept])
    await outbox.flush(infra.pool, infra.publisher, "router", [kept])
    (event,) = await tap.wait_for("webhook.parked")
    assert event["id"] == str(kept.id)
    assert await staged_ids(infra, kept, dropped) == []  # published, then forgotten


async def test_what_a_crash_or_outage_leaves_behind_is_published_by_the_relay(
    infra: Infrastructure, tap: Tap, broken_publisher: Publisher
) -> None:
    first, second = parked(f"outage {id(tap)} a"), parked(f"outage {id(tap)} b")
    async with infra.pool.acquire() as conn, conn.transaction():
        await outbox.stage(conn, "router", [first, second])
    await outbox.flush(infra.pool, broken_publisher, "router", [first, second])  # broker down: no error, kept
    assert await staged_ids(infra, first, second) == sorted([str(first.id), str(second.id)])

    async with outbox.relaying(infra.pool, infra.publisher, "router", every_s=0.05, min_age_s=0):
        events = await tap.wait_for("webhook.parked", count=2)
        for _ in range(100):  # bounded poll: the relay deletes what it published when its transaction commits
            if not await staged_ids(infra, first, second):
                break
            await asyncio.sleep(0.05)
    assert sorted(e["id"] for e in events) == sorted([str(first.id), str(second.id)])
    assert await staged_ids(infra, first, second) == []


async def test_relays_on_several_replicas_publish_each_event_once(infra: Infrastructure, tap: Tap) -> None:
    envelopes = [parked(f"replica {id(tap)} {n}") for n in range(30)]
    async with infra.pool.acquire() as conn, conn.transaction():
        await outbox.stage(conn, "router", envelopes)
    counts = await asyncio.gather(
        *(outbox.relay_once(infra.pool, infra.publisher, "router", min_age_s=0, batch=10) for _ in range(6))
    )
    while await staged_ids(infra, *envelopes):
        counts.append(await outbox.relay_once(infra.pool, infra.publisher, "router", min_age_s=0))
    await tap.wait_for("webhook.parked", count=30)
    await tap.drained()
    ours = {str(e.id) for e in envelopes}
    assert sorted(e["id"] for e in tap.of_type("webhook.parked") if e["id"] in ours) == sorted(ours)  # each once
    assert sum(counts) >= 30


async def test_an_unknown_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="no outbox"):
        await outbox.flush(None, None, "public; DROP TABLE x", [parked("x")])  # type: ignore[arg-type]


async def test_flushes_after_their_commits_leave_in_commit_order_and_drain_waits_for_them(
    infra: Infrastructure, tap: Tap
) -> None:
    """A batching consumer's flushes run while its next batch is carried out: one at a time, in commit order."""
    flushes = outbox.Flushes()
    commits = [[parked(f"flush {id(tap)} {batch}.{i}") for i in range(10)] for batch in range(3)]
    for envelopes in commits:
        async with infra.pool.acquire() as conn, conn.transaction():
            await outbox.stage(conn, "router", envelopes)
        await flushes.after_commit(infra.pool, infra.publisher, "router", envelopes)
    await flushes.drain()
    everything = [e for envelopes in commits for e in envelopes]
    assert await staged_ids(infra, *everything) == []  # published, confirmed, forgotten once drained
    events = await tap.wait_for("webhook.parked", count=len(everything))
    arrived = [e["id"] for e in events]
    # Within a commit the publishes are concurrent; a later commit's never overtake an earlier one's.
    for earlier, later in itertools.pairwise(commits):
        assert max(arrived.index(str(e.id)) for e in earlier) < min(arrived.index(str(e.id)) for e in later)


async def test_a_flush_the_broker_refuses_leaves_its_events_to_the_relay(
    infra: Infrastructure, tap: Tap, broken_publisher: Publisher
) -> None:
    flushes, kept = outbox.Flushes(), parked(f"flush {id(tap)} refused")
    async with infra.pool.acquire() as conn, conn.transaction():
        await outbox.stage(conn, "router", [kept])
    await flushes.after_commit(infra.pool, broken_publisher, "router", [kept])
    await flushes.drain()  # the failure is logged, not raised: the batch was carried out
    assert await staged_ids(infra, kept) == [str(kept.id)]
    assert await outbox.relay_once(infra.pool, infra.publisher, "router", min_age_s=0) >= 1
    await tap.wait_for("webhook.parked", where=lambda e: e["id"] == str(kept.id))

"""``outbox.transaction``: stage → commit → flush in one ``async with``, with the outbox's guarantees."""

from __future__ import annotations

import pytest

from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import WebhookParked
from shared.messaging import outbox
from shared.messaging.broker import Publisher
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap


def parked(reason: str) -> Envelope[WebhookParked]:
    return wrap(WebhookParked(reason=reason), id=derived_id("test-tx", reason), correlation_id="c-outbox-tx")


async def staged(infra: Infrastructure, *envelopes: Envelope[WebhookParked]) -> int:
    return int(
        await infra.pool.fetchval(
            "SELECT count(*) FROM router.outbox WHERE id = ANY($1::uuid[])", [e.id for e in envelopes]
        )
    )


async def test_what_the_body_staged_is_published_after_the_commit_and_forgotten(
    infra: Infrastructure, tap: Tap
) -> None:
    first, second = parked(f"tx {id(tap)} a"), parked(f"tx {id(tap)} b")
    async with outbox.transaction(infra.pool, infra.publisher, "router") as tx:
        await tx.stage([first])
        await tx.stage([second])
        assert tap.of_type("webhook.parked") == []  # nothing leaves before the commit
        assert await tx.conn.fetchval("SELECT count(*) FROM router.outbox WHERE id = $1", first.id) == 1
    events = await tap.wait_for("webhook.parked", count=2)
    assert [e["id"] for e in events] == [str(first.id), str(second.id)]
    assert await staged(infra, first, second) == 0


async def test_an_exception_in_the_body_rolls_back_and_publishes_nothing(infra: Infrastructure, tap: Tap) -> None:
    dropped = parked(f"tx {id(tap)} rolled back")
    with pytest.raises(RuntimeError):
        async with outbox.transaction(infra.pool, infra.publisher, "router") as tx:
            await tx.stage([dropped])
            raise RuntimeError("the effect failed")
    await tap.drained()
    assert tap.of_type("webhook.parked") == []
    assert await staged(infra, dropped) == 0


async def test_a_broker_outage_after_the_commit_leaves_the_events_to_the_relay(infra: Infrastructure, tap: Tap) -> None:
    kept = parked(f"tx {id(tap)} outage")
    broken = await Publisher.open(infra.connection, infra.settings)
    await broken.close()  # as if the broker had gone away
    async with outbox.transaction(infra.pool, broken, "router") as tx:
        await tx.stage([kept])
    assert await staged(infra, kept) == 1  # committed, not lost
    assert await outbox.relay_once(infra.pool, infra.publisher, "router", min_age_s=0) >= 1
    (event,) = await tap.wait_for("webhook.parked", where=lambda e: e["id"] == str(kept.id))
    assert event["correlation_id"] == "c-outbox-tx"
    assert await staged(infra, kept) == 0


async def test_an_unknown_schema_is_refused_before_any_transaction_opens() -> None:
    with pytest.raises(ValueError, match="no outbox"):
        async with outbox.transaction(None, None, "public; DROP TABLE x"):  # type: ignore[arg-type]
            pass

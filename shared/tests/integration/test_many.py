"""A route's ``many`` handler against the real RabbitMQ: a batch's deliveries handed over at once, each with its own
outcome (done and acked, retried, dead-lettered), never its neighbours'; and batches that overlap (``overlapping``),
so that one whose handler waits on the outside world does not hold up the next."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging import broker, topology
from shared.messaging.batch import Batching
from shared.messaging.consumer import ATTEMPT_HEADER, ERROR_HEADER, Consumer, Reject, Retry, Route
from shared.messaging.runtime import Infrastructure
from tests.support.broker import get_one, queue_depth, watch_acks

BATCH = 16


@dataclass
class Deps:
    calls: list[list[str]] = field(default_factory=list)  # each call of ``many``: its bodies
    alone: list[str] = field(default_factory=list)  # each call of the one-at-a-time handler
    done: list[str] = field(default_factory=list)
    release: dict[str, asyncio.Event] = field(default_factory=dict)  # a body that waits until its event is set
    broken: bool = False  # ``many`` raises as a whole


async def handle(envelope: Envelope[WebhookReceived], deps: Deps) -> None:
    deps.alone.append(envelope.data.body)
    deps.done.append(envelope.data.body)


async def handle_many(envelopes: list[Envelope[WebhookReceived]], deps: Deps) -> list[Exception | None]:
    bodies = [e.data.body for e in envelopes]
    deps.calls.append(bodies)
    if deps.broken:
        raise RuntimeError("the batch's own step failed")
    for body in bodies:
        if body in deps.release:
            await deps.release[body].wait()
    outcomes: list[Exception | None] = []
    for body in bodies:
        if body == "retry":
            outcomes.append(Retry("not yet", delay_s=1))
        elif body == "reject":
            outcomes.append(Reject("never"))
        else:
            deps.done.append(body)
            outcomes.append(None)
    return outcomes


ROUTES = {WebhookReceived.TYPE: Route(WebhookReceived, handle, many=handle_many)}


def webhook(body: str) -> Envelope[WebhookReceived]:
    return wrap(WebhookReceived(body=body, received_at=datetime.now(UTC)), correlation_id="c-many")


async def until(condition, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def deps() -> Deps:
    return Deps()


async def consuming(infra: Infrastructure, deps: Deps, overlapping: int = 1) -> Consumer[Deps]:
    batching = Batching(infra.pool, BATCH, overlapping=overlapping)
    consumer = Consumer("router", ROUTES, deps, infra.publisher, infra.names, batching=batching)
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    return consumer


@pytest.fixture
async def gated(infra: Infrastructure, deps: Deps) -> AsyncIterator[Consumer[Deps]]:
    """A consumer whose first batch (the gate) waits until the deliveries under test have all reached it."""
    deps.release["gate"] = asyncio.Event()
    await infra.publisher.publish(webhook("gate"))
    consumer = await consuming(infra, deps)
    await until(lambda: deps.calls == [["gate"]])
    yield consumer
    for event in deps.release.values():
        event.set()
    await consumer.stop(grace_s=10)


async def behind_the_gate(infra: Infrastructure, consumer: Consumer[Deps], *bodies: str) -> None:
    await asyncio.gather(*(infra.publisher.publish(webhook(body)) for body in bodies))
    await until(lambda: consumer.in_flight == 1 + len(bodies))
    consumer.deps.release["gate"].set()
    await until(lambda: consumer.in_flight == 0)


async def test_a_batch_is_handed_over_at_once_and_each_delivery_gets_its_own_verdict(
    infra: Infrastructure, gated: Consumer[Deps]
) -> None:
    deps = gated.deps
    await behind_the_gate(infra, gated, "a", "retry", "b", "reject", "c")

    assert deps.calls == [["gate"], ["a", "retry", "b", "reject", "c"]]
    assert deps.done == ["gate", "a", "b", "c"] and deps.alone == []
    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    assert json.loads(dead.body)["data"]["body"] == "reject" and "never" in str(dead.headers[ERROR_HEADER])
    retried = await get_one(infra.connection, infra.names.retry_queue("router", topology.retry_tier(1)))
    assert json.loads(retried.body)["data"]["body"] == "retry" and retried.headers[ATTEMPT_HEADER] == 1
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0  # the others acked


async def test_a_many_handler_that_fails_as_a_whole_leaves_each_delivery_to_the_one_at_a_time_handler(
    infra: Infrastructure, gated: Consumer[Deps]
) -> None:
    deps = gated.deps
    deps.broken = True
    await behind_the_gate(infra, gated, "a", "b", "c")

    assert deps.calls[-1] == ["a", "b", "c"] and deps.alone == ["a", "b", "c"]
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0
    assert await queue_depth(infra.connection, infra.names.dead_queue("router")) == 0


async def test_overlapping_batches_do_not_wait_for_one_another_and_every_delivery_is_acked(
    infra: Infrastructure, deps: Deps
) -> None:
    deps.release["slow"] = asyncio.Event()  # a handler waiting on the outside world (a slow model)
    consumer = await consuming(infra, deps, overlapping=2)
    try:
        await infra.publisher.publish(webhook("slow"))
        await until(lambda: deps.calls == [["slow"]])
        for body in ("x", "y"):
            await infra.publisher.publish(webhook(body))
        await until(lambda: {"x", "y"} <= set(deps.done))  # handled while the slow batch still waits
        assert "slow" not in deps.done and consumer.in_flight == 1
        deps.release["slow"].set()
        await until(lambda: consumer.in_flight == 0)
    finally:
        deps.release["slow"].set()
        await consumer.stop(grace_s=10)
    assert sorted(deps.done) == ["slow", "x", "y"]
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_one_batch_at_a_time_unless_overlapping(infra: Infrastructure, deps: Deps) -> None:
    deps.release["slow"] = asyncio.Event()
    consumer = await consuming(infra, deps)
    try:
        await infra.publisher.publish(webhook("slow"))
        await until(lambda: deps.calls == [["slow"]])
        await infra.publisher.publish(webhook("x"))
        await until(lambda: consumer.in_flight == 2)
        await asyncio.sleep(0.3)
        assert deps.done == []  # the next batch waits for the one before it
        deps.release["slow"].set()
        await until(lambda: consumer.in_flight == 0)
    finally:
        deps.release["slow"].set()
        await consumer.stop(grace_s=10)
    assert deps.done == ["slow", "x"]


async def test_overlapping_batches_that_end_in_order_are_acked_with_one_basic_ack(
    infra: Infrastructure, deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    acks = watch_acks(monkeypatch)
    for body in ("a", "b", "c"):  # waiting before the consumer starts: one batch
        await infra.publisher.publish(webhook(body))
    async with broker.connect(infra.settings, infra.names) as connection:
        consumer = Consumer(
            "router", ROUTES, deps, infra.publisher, infra.names, batching=Batching(infra.pool, BATCH, overlapping=2)
        )
        await consumer.start(connection, prefetch=2 * BATCH)
        try:
            await until(lambda: sorted(deps.done) == ["a", "b", "c"] and consumer.in_flight == 0)
        finally:
            await consumer.stop(grace_s=10)
    assert deps.calls == [["a", "b", "c"]] and acks == [(3, True)]
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_a_batch_that_ends_before_an_older_one_is_acked_at_once_not_held_up_by_it(
    infra: Infrastructure, deps: Deps, monkeypatch: pytest.MonkeyPatch
) -> None:
    acks = watch_acks(monkeypatch)
    deps.release["slow"] = asyncio.Event()  # a batch whose model takes its time
    async with broker.connect(infra.settings, infra.names) as connection:
        batching = Batching(infra.pool, BATCH, overlapping=2)
        consumer = Consumer("router", ROUTES, deps, infra.publisher, infra.names, batching=batching)
        await consumer.start(connection, prefetch=2 * BATCH)
        try:
            await infra.publisher.publish(webhook("slow"))  # tag 1, in the first batch, held
            await until(lambda: deps.calls == [["slow"]])
            for body in ("x", "retry", "y"):  # tags 2-4, in the batches beside it: done, retried, done
                await infra.publisher.publish(webhook(body))
            await until(lambda: {"x", "y"} <= set(deps.done) and len(acks) == 3)
            assert sorted(acks) == [(2, False), (3, False), (4, False)]  # each alone: the slow one is still open
            deps.release["slow"].set()
            await until(lambda: consumer.in_flight == 0 and len(acks) == 4)
            assert acks[-1] == (1, True)  # the head's run: the slow one, and those settled after it
        finally:
            deps.release["slow"].set()
            await consumer.stop(grace_s=10)
    # The consumer's connection is gone: anything it had not acked would be back on the queue.
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0

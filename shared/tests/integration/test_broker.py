"""Publisher confirms and the consumer's ack policy, against the real RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aio_pika
import pytest

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging import broker, socket_writes, wire
from shared.messaging.broker import PublishFailed
from shared.messaging.consumer import ERROR_HEADER, Consumer, Reject, Retry, Route
from shared.messaging.runtime import Infrastructure
from tests.support.broker import CuttableLink, get_one, queue_depth


def webhook(body: str = "{}") -> Envelope[WebhookReceived]:
    return wrap(WebhookReceived(body=body, received_at=datetime.now(UTC)), correlation_id="c-test")


@dataclass
class Calls:
    seen: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def test_published_event_waits_in_its_consumer_queue(infra: Infrastructure) -> None:
    names = infra.names
    await infra.publisher.publish(webhook('{"x": 1}'))
    message = await get_one(infra.connection, names.queue("router"))
    envelope = json.loads(message.body)
    assert envelope["type"] == "webhook.received" and envelope["data"]["body"] == '{"x": 1}'
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT


async def test_unroutable_publish_is_a_distinct_failure(infra: Infrastructure) -> None:
    exchange = await infra.publisher.exchange(infra.names.events)
    with pytest.raises(PublishFailed) as failure:
        await infra.publisher.publish_raw(exchange, "nobody.listens", aio_pika.Message(b"{}"))
    assert failure.value.reason == "unroutable"


async def _consume(infra: Infrastructure, handler, max_attempts: int = 8) -> Consumer[Calls]:  # type: ignore[no-untyped-def]
    calls = Calls()
    consumer = Consumer(
        "router",
        {WebhookReceived.TYPE: Route(WebhookReceived, handler)},
        calls,
        infra.publisher,
        infra.names,
        max_attempts=max_attempts,
    )
    await consumer.start(infra.connection, prefetch=4)
    return consumer


async def test_handled_message_is_acked_and_gone(infra: Infrastructure) -> None:
    async def handle(envelope: Envelope[WebhookReceived], calls: Calls) -> None:
        calls.seen.append(envelope.data.body)
        calls.done.set()

    consumer = await _consume(infra, handle)
    await infra.publisher.publish(webhook("ok"))
    await asyncio.wait_for(consumer.deps.done.wait(), 10)
    await consumer.stop()
    assert consumer.deps.seen == ["ok"]
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_rejected_message_lands_in_the_dead_letter_queue_with_its_reason(infra: Infrastructure) -> None:
    async def handle(envelope: Envelope[WebhookReceived], calls: Calls) -> None:
        raise Reject("payload can never be routed")

    consumer = await _consume(infra, handle)
    await infra.publisher.publish(webhook("poison"))
    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    await consumer.stop()
    assert json.loads(dead.body)["data"]["body"] == "poison"
    assert dead.headers[ERROR_HEADER] == "payload can never be routed"


async def test_retry_comes_back_after_the_delay_then_succeeds(infra: Infrastructure) -> None:
    async def handle(envelope: Envelope[WebhookReceived], calls: Calls) -> None:
        calls.seen.append(datetime.now(UTC).isoformat())
        if len(calls.seen) == 1:
            raise Retry("not yet", delay_s=1)
        calls.done.set()

    consumer = await _consume(infra, handle)
    await infra.publisher.publish(webhook("later"))
    await asyncio.wait_for(consumer.deps.done.wait(), 15)
    await consumer.stop()
    first, second = (datetime.fromisoformat(t) for t in consumer.deps.seen)
    assert (second - first).total_seconds() >= 0.9


async def test_a_handler_that_keeps_crashing_is_dead_lettered_after_max_attempts(infra: Infrastructure) -> None:
    async def handle(envelope: Envelope[WebhookReceived], calls: Calls) -> None:
        calls.seen.append("x")
        raise RuntimeError("database is down")

    consumer = await _consume(infra, handle, max_attempts=2)
    await infra.publisher.publish(webhook("unlucky"))
    dead = await get_one(infra.connection, infra.names.dead_queue("router"), 15)
    await consumer.stop()
    assert consumer.deps.seen == ["x", "x"]
    assert "gave up after 2 attempts: RuntimeError: database is down" in dead.headers[ERROR_HEADER]


async def test_a_message_that_is_not_an_envelope_is_dead_lettered_at_once(infra: Infrastructure) -> None:
    async def handle(envelope: Envelope[WebhookReceived], calls: Calls) -> None:
        calls.seen.append("called")

    consumer = await _consume(infra, handle)
    names = infra.names
    exchange = await infra.publisher.exchange(names.events)
    await infra.publisher.publish_raw(exchange, "webhook.received", aio_pika.Message(b"not json"))
    dead = await get_one(infra.connection, names.dead_queue("router"))
    await consumer.stop()
    assert consumer.deps.seen == []
    assert "not a wamux envelope" in dead.headers[ERROR_HEADER]


async def test_an_event_only_the_crm_listens_to_may_have_no_listener_yet(infra: Infrastructure) -> None:
    from shared.contracts.messages import WebhookParked

    await infra.publisher.publish(wrap(WebhookParked(reason="unknown phone_number_id"), correlation_id="c"))
    names = infra.names
    async with infra.connection.channel() as channel:
        await channel.queue_delete(names.queue("router"))
    with pytest.raises(PublishFailed):  # but an event a wamux service consumes must reach its queue
        await infra.publisher.publish(webhook())


async def test_waiting_for_a_turn_never_brings_a_message_closer_to_the_dead_letter_queue(infra: Infrastructure) -> None:
    async def handle(envelope: Envelope[WebhookReceived], calls: Calls) -> None:
        calls.seen.append("turn")
        if len(calls.seen) < 4:
            raise Retry("rate limit: not your turn yet", delay_s=0.5, counts=False)
        calls.done.set()

    consumer = await _consume(infra, handle, max_attempts=2)
    await infra.publisher.publish(webhook("busy number"))
    await asyncio.wait_for(consumer.deps.done.wait(), 20)
    await consumer.stop()
    assert consumer.deps.seen == ["turn"] * 4
    assert await queue_depth(infra.connection, infra.names.dead_queue("router")) == 0


# The connection's socket writes are gathered per loop turn (shared.messaging.socket_writes): what the broker
# receives of a burst of publishes is still every frame, whole and in order.


async def test_a_burst_of_publishes_is_confirmed_whole_and_in_order(infra: Infrastructure) -> None:
    assert isinstance(infra.connection, socket_writes.GatheringRobustConnection)
    envelopes = [webhook(f'{{"n": {i}}}') for i in range(300)]
    await asyncio.gather(*(infra.publisher.publish(e) for e in envelopes))  # each awaits its own confirm

    # Asked for in one turn of the loop: lines groups of at most GROUP_MAX_ENVELOPES, in order.
    most = broker.GROUP_MAX_ENVELOPES
    sizes = [most] * (300 // most) + ([300 % most] if 300 % most else [])
    messages = [await get_one(infra.connection, infra.names.queue("router")) for _ in sizes]
    assert [m.content_type for m in messages] == [wire.LINES_TYPE] * len(sizes)
    assert [m.headers[wire.PARTS_HEADER] for m in messages] == sizes
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0
    bodies = [b for m in messages for b in wire.as_json_parts(m)]
    assert [b["id"] for b in bodies] == [str(e.id) for e in envelopes]
    assert [b["data"]["body"] for b in bodies] == [e.data.body for e in envelopes]


async def test_a_group_that_cannot_be_published_fails_each_of_its_callers(infra: Infrastructure) -> None:
    publisher = await broker.Publisher.open(infra.connection, infra.settings, names=infra.names)
    await publisher.close()
    envelopes = [webhook(f'{{"n": {i}}}') for i in range(3)]
    results = await asyncio.gather(*(publisher.publish(e) for e in envelopes), return_exceptions=True)
    assert all(isinstance(r, PublishFailed) and r.reason == "disconnected" for r in results)
    assert len({id(r) for r in results}) == 3  # one exception each: they are raised in as many tasks
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_with_publish_groups_off_each_envelope_is_a_message_of_its_own(infra: Infrastructure) -> None:
    settings = infra.settings.model_copy(update={"publish_groups": False})  # WAMUX_PUBLISH_GROUPS=false
    publisher = await broker.Publisher.open(infra.connection, settings, names=infra.names)
    envelopes = [webhook(f'{{"n": {i}}}') for i in range(5)]
    await asyncio.gather(*(publisher.publish(e) for e in envelopes))

    messages = [await get_one(infra.connection, infra.names.queue("router")) for _ in envelopes]
    assert [m.content_type for m in messages] == [wire.JSON_TYPE] * len(envelopes)
    assert [json.loads(m.body)["id"] for m in messages] == [m.message_id for m in messages]
    assert [m.message_id for m in messages] == [str(e.id) for e in envelopes]
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0
    await publisher.close()


async def test_after_a_reconnection_the_gathering_connection_publishes_again(infra: Infrastructure) -> None:
    link = CuttableLink(infra.settings, reconnect_interval_s=0.2)
    async with link as settings:
        async with broker.connect(settings, infra.names) as connection:
            publisher = await broker.Publisher.open(connection, settings, names=infra.names)
            await publisher.publish(webhook("before"))
            reconnected = asyncio.Event()
            connection.reconnect_callbacks.add(lambda *_: reconnected.set())
            link.cut()
            await asyncio.wait_for(reconnected.wait(), 20)
            # aio-pika reconnects with the kwargs the class set: the new socket comes from the same factory.
            assert isinstance(connection.kwargs["transport_factory"], socket_writes.GatheringTransportFactory)
            for _ in range(50):
                try:
                    await publisher.publish(webhook("after"))
                    break
                except PublishFailed:
                    await asyncio.sleep(0.1)  # the robust channel comes back just after the connection
            else:
                raise AssertionError("no publish confirmed after the reconnection")
    bodies = [json.loads((await get_one(infra.connection, infra.names.queue("router"))).body) for _ in range(2)]
    assert [b["data"]["body"] for b in bodies] == ["before", "after"]

"""Group commit over real HTTP and the real broker: webhooks arriving together share confirmed publishes, each
still answered 200 only once a persistent message holding its exact bytes is confirmed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pamqp.commands import Basic

from gateway.app import create_app
from gateway.group_commit import GroupCommit
from gateway.signature import sign
from gateway.webhooks import WEBHOOK_COUNTS, WEBHOOK_GROUPS
from shared.contracts.messages import WebhookReceived
from shared.messaging import broker, topology, wire
from shared.messaging.runtime import Infrastructure
from tests.support.broker import get_one, queue_depth

WEBHOOKS = 300


@pytest.fixture
async def client(infra: Infrastructure) -> AsyncIterator[TestClient]:
    settings = infra.settings.model_copy(update={"webhook_group_max": 64})
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


def _body(i: int) -> bytes:
    # Distinct, and not all of one size: each part must come back as exactly its own bytes.
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": str(i), "pad": "x" * (i % 37)}]}
    ).encode()


async def _post(client: TestClient, body: bytes) -> int:
    response = await client.post(
        "/webhook/whatsapp", data=body, headers={"X-Hub-Signature-256": sign(body, "test-app-secret")}
    )
    return response.status


async def test_webhooks_arriving_together_share_publishes_and_each_is_kept_once_byte_for_byte(
    client: TestClient, infra: Infrastructure
) -> None:
    bodies = [_body(i) for i in range(WEBHOOKS)]

    statuses = await asyncio.gather(*(_post(client, body) for body in bodies))

    assert statuses == [200] * WEBHOOKS
    queue = topology.Topology(infra.settings.broker_prefix).queue("router")
    deliveries = await queue_depth(infra.connection, queue)
    assert 1 <= deliveries < WEBHOOKS  # they shared publishes (2 in flight at most while 300 arrived at once)
    kept: list[bytes] = []
    ids: set[str] = set()
    for _ in range(deliveries):
        message = await get_one(infra.connection, queue, timeout=2)
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        for part, envelope in zip(wire.parts(message), wire.read_parts(message, WebhookReceived), strict=True):
            kept.append(part.body)
            ids.add(str(envelope.id))
            assert envelope.data.body.encode() == part.body and envelope.correlation_id == part.envelope_id
    assert sorted(kept) == sorted(bodies) and len(ids) == WEBHOOKS  # every webhook once, its own envelope id
    metrics = await (await client.get("/metrics")).text()
    assert f"wamux_gateway_webhook_publishes_total {float(deliveries)}" in metrics
    assert f'wamux_gateway_webhooks_total{{outcome="accepted"}} {float(WEBHOOKS)}' in metrics


async def test_a_lone_webhook_leaves_at_once_in_the_plain_props_form(client: TestClient, infra: Infrastructure) -> None:
    body = _body(1)
    assert await _post(client, body) == 200
    message = await get_one(
        infra.connection, topology.Topology(infra.settings.broker_prefix).queue("router"), timeout=1
    )
    assert not wire.is_group(message) and message.body == body
    assert str(wire.read_envelope(message, WebhookReceived).id) == message.message_id


async def test_a_group_the_broker_cannot_take_answers_503_to_each_of_its_webhooks(
    client: TestClient, infra: Infrastructure
) -> None:
    queue = topology.Topology(infra.settings.broker_prefix).queue("router")
    async with infra.connection.channel() as channel:
        await channel.queue_delete(queue)  # nobody to route to: every publish is returned unroutable

    statuses = await asyncio.gather(*(_post(client, _body(i)) for i in range(50)))

    assert statuses == [503] * 50  # none answered 200 without a confirmed, routed publish
    counts, groups = client.app[WEBHOOK_COUNTS], client.app[WEBHOOK_GROUPS]  # /metrics needs the queue it lost
    assert (counts.publish_failed, counts.accepted, groups.groups_published) == (50, 0, 0)


async def test_webhooks_beyond_one_group_leave_at_once_while_a_place_is_free(infra: Infrastructure) -> None:
    """Three webhooks in one turn with groups of two: the third leaves in a second publish at once, beside the
    first (two in flight), not when the first is confirmed."""
    publisher = await broker.Publisher.open(
        infra.connection, infra.settings, names=topology.Topology(infra.settings.broker_prefix), role="gateway"
    )
    lane = publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND)
    in_flight, most = 0, 0

    class Watched(broker.Lane):
        async def publish(self, body: bytes, properties: Basic.Properties) -> None:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                await super().publish(body, properties)  # the real broker's confirm
            finally:
                in_flight -= 1

    groups = GroupCommit(Watched(lane.publisher, lane.exchange, lane.type, lane.mandatory), wire.EnvelopeIds(), 2)
    parts = [wire.Part(_body(i), str(uuid.uuid4()), 1_764_662_400_000_000 + i) for i in range(3)]

    await asyncio.wait_for(asyncio.gather(*(groups.publish(part) for part in parts)), 5)

    assert groups.groups_published == 2 and most == 2
    queue = topology.Topology(infra.settings.broker_prefix).queue("router")
    kept = [p.body for _ in range(2) for p in wire.parts(await get_one(infra.connection, queue, timeout=2))]
    assert sorted(kept) == sorted(p.body for p in parts)

"""The gateway over real HTTP, with the real broker and database behind it."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.keys import PUBLISHER
from gateway.metrics import METRICS_CHANNEL
from gateway.signature import sign
from shared.contracts.messages import WebhookReceived
from shared.messaging import topology, wire
from shared.messaging.runtime import Infrastructure
from shared.settings import Settings
from tests.support.broker import get_one, queue_depth
from tests.support.tenants import create_tenant

BODY = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
SIGNED = {"X-Hub-Signature-256": sign(BODY, "test-app-secret")}


@pytest.fixture
async def client(infra: Infrastructure) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(infra.settings))) as test_client:
        yield test_client


def router_queue(settings: Settings) -> str:
    return topology.Topology(settings.broker_prefix).queue("router")


async def test_verification_handshake_echoes_the_challenge(client: TestClient) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "1158201444"}
    ok = await client.get("/webhook/whatsapp", params=query)
    assert ok.status == 200 and await ok.text() == "1158201444"
    wrong = await client.get("/webhook/whatsapp", params={**query, "hub.verify_token": "guess"})
    assert wrong.status == 403


async def test_signed_webhook_is_published_raw_before_the_200(client: TestClient, infra: Infrastructure) -> None:
    response = await client.post("/webhook/whatsapp", data=BODY, headers=SIGNED)
    assert response.status == 200
    message = await get_one(infra.connection, router_queue(infra.settings), timeout=1)
    assert message.body == BODY  # the exact bytes as the message itself: no JSON inside JSON
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT and message.content_type == "application/json"
    envelope = wire.read_envelope(message, WebhookReceived)  # what the router reads
    assert envelope.type == "webhook.received" and str(envelope.id) == message.message_id
    assert envelope.data.body.encode() == BODY and envelope.data.body_base64 is None
    assert envelope.correlation_id


async def test_a_signed_body_that_is_not_utf8_is_accepted_and_kept_byte_for_byte(
    client: TestClient, infra: Infrastructure
) -> None:
    body = b'{"object": "whatsapp_business_account", "x": "\xff\xfe"}'
    response = await client.post(
        "/webhook/whatsapp", data=body, headers={"X-Hub-Signature-256": sign(body, "test-app-secret")}
    )
    assert response.status == 200
    message = await get_one(infra.connection, router_queue(infra.settings), timeout=1)
    assert message.body == body and message.content_type == "application/octet-stream"
    envelope = wire.read_envelope(message, WebhookReceived)
    assert envelope.data.body_base64 is not None and base64.b64decode(envelope.data.body_base64) == body


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
async def test_bad_or_missing_signature_is_refused_and_nothing_is_published(
    client: TestClient, infra: Infrastructure, signature: str | None
) -> None:
    headers = {"X-Hub-Signature-256": signature} if signature else {}
    response = await client.post("/webhook/whatsapp", data=BODY, headers=headers)
    assert response.status == 401
    assert await queue_depth(infra.connection, router_queue(infra.settings)) == 0


async def test_oversized_body_is_413_and_not_published(client: TestClient, infra: Infrastructure) -> None:
    body = b"x" * (infra.settings.max_body_bytes + 1)
    response = await client.post("/webhook/whatsapp", data=body, headers={"X-Hub-Signature-256": sign(body, "x")})
    assert response.status == 413
    assert await queue_depth(infra.connection, router_queue(infra.settings)) == 0


async def test_broker_unable_to_confirm_means_503_and_not_ready(client: TestClient) -> None:
    await client.app[PUBLISHER].close()
    response = await client.post("/webhook/whatsapp", data=BODY, headers=SIGNED)
    assert response.status == 503
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["broker"] is False


async def test_nobody_to_route_to_means_503(client: TestClient, infra: Infrastructure) -> None:
    async with infra.connection.channel() as channel:
        await channel.queue_delete(router_queue(infra.settings))
    response = await client.post("/webhook/whatsapp", data=BODY, headers=SIGNED)
    assert response.status == 503


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and await ready.json() == {"broker": True, "database": True}


async def test_stats_list_every_number_even_without_traffic(client: TestClient, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    response = await client.get(
        f"/api/clients/{tenant.client_id}/stats", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert response.status == 200
    (number,) = (await response.json())["numbers"]
    assert number["phone_number"] == tenant.phone_number
    assert number["free_remaining"] == 1000
    assert number["conversations_this_month"] == 0 and number["messages_this_month"] == 0


async def test_a_client_key_never_opens_another_client(client: TestClient, database_url: str) -> None:
    mine = await create_tenant(database_url)
    theirs = await create_tenant(database_url)
    crossed = await client.get(
        f"/api/clients/{theirs.client_id}/stats", headers={"Authorization": f"Bearer {mine.api_key}"}
    )
    assert crossed.status == 404
    assert (await client.get(f"/api/clients/{mine.client_id}/stats")).status == 401
    bad_key = await client.get(f"/api/clients/{mine.client_id}/stats", headers={"Authorization": "Bearer nope"})
    assert bad_key.status == 401


async def test_metrics_show_backlog_and_parked_parts(client: TestClient, infra: Infrastructure) -> None:
    for _ in range(2):
        assert (await client.post("/webhook/whatsapp", data=BODY, headers=SIGNED)).status == 200
    response = await client.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    text = await response.text()
    assert 'wamux_queue_messages{queue="work",role="router"} 2.0' in text
    assert 'wamux_queue_messages{queue="dead",role="sender"} 0.0' in text
    assert 'wamux_queue_consumers{role="router"} 0.0' in text
    assert "# TYPE wamux_parked_total gauge" in text
    assert 'wamux_gateway_webhooks_total{outcome="accepted"} 2.0' in text


async def test_every_scrape_reads_on_one_kept_channel_opened_again_once_closed(client: TestClient) -> None:
    kept = client.app[METRICS_CHANNEL]
    assert (await client.get("/metrics")).status == 200
    first = kept.channel
    assert first is not None and not first.is_closed
    assert (await client.get("/metrics")).status == 200
    assert kept.channel is first  # not a channel per scrape: aio-pika keeps callbacks for each one it closed
    await first.close()  # as the broker closes a channel
    response = await client.get("/metrics")
    assert response.status == 200 and 'wamux_queue_messages{queue="work",role="router"}' in await response.text()
    assert kept.channel is not first and not kept.channel.is_closed

"""The router's consumer takes ``webhook.received`` in the wire's props form, the gateway's (the exact signed bytes
as the AMQP body), as it takes the JSON form: parsed, stored, kept byte for byte when not UTF-8."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from router.__main__ import ROLE
from shared.contracts.messages import WebhookReceived
from shared.messaging import wire
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap, queue_depth
from tests.support.payloads import body, new_wamid, notification, text_message
from tests.support.router import served_router
from tests.support.tenants import Tenant

pytestmark = pytest.mark.integration


@pytest.fixture
async def routing(infra: Infrastructure) -> AsyncIterator[None]:
    async with served_router(infra):
        yield


async def publish_as_the_gateway_does(infra: Infrastructure, raw: bytes) -> str:
    envelope_id = str(uuid.uuid4())
    properties = wire.webhook_properties(raw, envelope_id=envelope_id, received_at_us=time.time_ns() // 1000)
    await infra.publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND).publish(raw, properties)
    return envelope_id


async def eventually(read: Callable[[], Awaitable[Any]], timeout: float = 15) -> Any:
    """Bounded poll until ``read`` gives something."""
    deadline = time.monotonic() + timeout
    while not (found := await read()):
        assert time.monotonic() < deadline, "the router did not get there in time"
        await asyncio.sleep(0.05)
    return found


async def test_a_props_form_webhook_is_parsed_and_stored(infra: Infrastructure, tenant: Tenant, routing: None) -> None:
    wamid = new_wamid()
    raw = body(notification(tenant.phone_number_id, messages=[text_message("¿Abren el sábado?", wamid=wamid)]))
    await publish_as_the_gateway_does(infra, raw)

    row = await eventually(
        lambda: infra.pool.fetchrow("SELECT client_id, direction, body FROM router.messages WHERE wamid = $1", wamid)
    )

    assert (row["client_id"], row["direction"], row["body"]) == (tenant.client_id, "inbound", "¿Abren el sábado?")


async def test_a_props_form_body_that_is_not_utf8_is_parked_byte_for_byte(infra: Infrastructure, routing: None) -> None:
    raw = b'{"object": "whatsapp_business_account", "x": "\xff\xfe' + new_wamid().encode() + b'"}'
    await publish_as_the_gateway_does(infra, raw)

    async def kept() -> list[Any]:
        rows = await infra.pool.fetch("SELECT payload FROM router.parked WHERE reason = 'body is not UTF-8'")
        return [r for r in rows if base64.b64decode(r["payload"]["base64"]) == raw]

    assert len(await eventually(kept)) == 1


async def test_a_group_of_webhooks_from_the_gateway_s_group_commit_is_routed_webhook_by_webhook(
    infra: Infrastructure, tenant: Tenant, tap: Tap
) -> None:
    wamids = [new_wamid() for _ in range(3)]
    raws = [
        body(notification(tenant.phone_number_id, messages=[text_message(f"hola {i}", wamid=w)]))
        for i, w in enumerate(wamids)
    ]
    raws.insert(1, b'{"object": "whatsapp_business_account", "x": "\xff' + new_wamid().encode() + b'"}')
    parts = [wire.Part(raw, str(uuid.uuid4()), time.time_ns() // 1000) for raw in raws]
    properties = wire.group_properties(parts, group_id=str(uuid.uuid4()))
    await infra.publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND).publish(b"".join(raws), properties)
    async with served_router(infra) as router:
        received = await tap.wait_for("message.received", count=3)
        # Each message's event is caused by its own webhook: the part's envelope id is its correlation id.
        by_wamid = {m["data"]["wamid"]: m["correlation_id"] for m in received}
        assert by_wamid == {w: parts[i if i == 0 else i + 1].envelope_id for i, w in enumerate(wamids)}
        stored = await infra.pool.fetchval("SELECT count(*) FROM router.messages WHERE wamid = ANY($1)", wamids)
        assert stored == 3
        parked = await infra.pool.fetch("SELECT payload FROM router.parked WHERE reason = 'body is not UTF-8'")
        assert [r for r in parked if base64.b64decode(r["payload"]["base64"]) == raws[1]]
        await eventually(lambda: asyncio.sleep(0, router.in_flight == 0))
        assert await queue_depth(infra.connection, infra.names.queue(ROLE)) == 0  # the group acked once routed

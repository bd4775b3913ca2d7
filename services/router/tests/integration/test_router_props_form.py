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

from router.__main__ import ROLE, ROUTES
from router.deps import Deps
from shared.contracts.messages import WebhookReceived
from shared.messaging import wire
from shared.messaging.consumer import Consumer
from shared.messaging.runtime import Infrastructure
from tests.support.payloads import body, new_wamid, notification, text_message
from tests.support.tenants import Tenant

pytestmark = pytest.mark.integration


@pytest.fixture
async def routing(infra: Infrastructure) -> AsyncIterator[None]:
    router = Consumer(ROLE, ROUTES, Deps(infra.pool, infra.publisher), infra.publisher, infra.names)
    await router.start(infra.connection, prefetch=16)
    yield
    await router.stop()


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

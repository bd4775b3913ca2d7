"""Only active numbers are routed: what comes for a pending or suspended number waits, parked with that reason,
and ``number.activated`` hands it back — through the real router consumer, broker and database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from router.deps import Deps
from router.handlers import ACTIVATION_LAG_S
from shared.contracts.directory import NumberActivated
from shared.contracts.envelope import Envelope, wrap
from shared.messaging import topology
from shared.messaging.consumer import Consumer
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap, queue_depth
from tests.support.payloads import new_wamid, notification, status, text_message
from tests.support.router import business_wrote, raw_webhook, served_router
from tests.support.tenants import Tenant, create_tenant, random_phone_number_id, set_number_status

pytestmark = pytest.mark.integration


@pytest.fixture
async def router(infra: Infrastructure) -> AsyncIterator[Consumer[Deps]]:
    async with served_router(infra) as consumer:
        yield consumer


async def settled(infra: Infrastructure, router: Consumer[Deps], tap: Tap, timeout: float = 20) -> None:
    """Bounded poll until the router has nothing queued, retrying or in hand, and the tap has heard it all."""
    queues = [infra.names.queue("router"), *(infra.names.retry_queue("router", d) for d in topology.RETRY_TIERS_S)]
    deadline = time.monotonic() + timeout
    while any([await queue_depth(infra.connection, q) for q in queues]) or router.in_flight:
        assert time.monotonic() < deadline, "router not settled"
        await asyncio.sleep(0.05)
    await tap.drained()


def activated(tenant: Tenant, occurred_at: datetime | None = None) -> Envelope[NumberActivated]:
    event = NumberActivated(
        client_id=tenant.client_id,
        phone_number_id=tenant.phone_number_id,
        phone_number=tenant.phone_number,
        waba_id=tenant.waba_id,
    )
    return wrap(event, correlation_id="onboarding-test", tenant_id=tenant.client_id, occurred_at=occurred_at)


async def parked(infra: Infrastructure, phone_number_id: str) -> list[dict[str, Any]]:
    rows = await infra.pool.fetch(
        "SELECT reason, replayed_at FROM router.parked WHERE phone_number_id = $1 ORDER BY id", phone_number_id
    )
    return [dict(r) for r in rows]


def received(tap: Tap, wamid: str) -> list[dict[str, Any]]:
    return [e for e in tap.of_type("message.received") if e["data"]["wamid"] == wamid]


async def test_a_pending_number_s_message_waits_and_is_announced_once_when_the_number_is_activated(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    tenant = await create_tenant(database_url, status="pending")
    wamid = new_wamid()
    payload = notification(tenant.phone_number_id, messages=[text_message("¿Ya me atienden?", wamid=wamid)])
    await infra.publisher.publish(raw_webhook(payload))
    (event,) = await tap.wait_for(
        "webhook.parked", where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id
    )
    assert event["data"]["reason"] == "number_pending"
    await settled(infra, router, tap)
    assert received(tap, wamid) == []
    assert await infra.pool.fetchval("SELECT count(*) FROM router.messages WHERE wamid = $1", wamid) == 0

    await set_number_status(database_url, tenant, "active")
    await infra.publisher.publish(activated(tenant))
    (announced,) = await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    assert announced["tenant_id"] == str(tenant.client_id)
    assert announced["data"]["text"] == "¿Ya me atienden?" and announced["data"]["profile_name"] == "Ana"
    await settled(infra, router, tap)
    assert len(received(tap, wamid)) == 1
    assert [r["reason"] for r in await parked(infra, tenant.phone_number_id)] == ["number_pending"]
    assert all(r["replayed_at"] is not None for r in await parked(infra, tenant.phone_number_id))


async def test_a_redelivered_activation_replays_nothing_twice(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    tenant = await create_tenant(database_url, status="pending")
    wamid = new_wamid()
    await infra.publisher.publish(
        raw_webhook(notification(tenant.phone_number_id, messages=[text_message("Hola", wamid=wamid)]))
    )
    await tap.wait_for("webhook.parked", where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id)
    await settled(infra, router, tap)
    await set_number_status(database_url, tenant, "active")

    activation = activated(tenant)
    for _ in range(3):  # the same envelope, as RabbitMQ redelivers it
        await infra.publisher.publish(activation)
    await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    await settled(infra, router, tap)
    assert len(received(tap, wamid)) == 1
    replays = [e for e in tap.of_type("webhook.received") if e["correlation_id"].startswith("replay-")]
    assert len(replays) == 1
    assert await infra.pool.fetchval("SELECT count(*) FROM router.messages WHERE wamid = $1", wamid) == 1


async def test_a_part_replayed_while_its_number_is_suspended_again_waits_again(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    tenant = await create_tenant(database_url, status="pending")
    wamid = new_wamid()
    await infra.publisher.publish(
        raw_webhook(notification(tenant.phone_number_id, messages=[text_message("¿Hay?", wamid=wamid)]))
    )
    await tap.wait_for("webhook.parked", where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id)
    await settled(infra, router, tap)

    # Activated, then suspended before the router heard of it: the replayed message is parked again, as suspended.
    await set_number_status(database_url, tenant, "suspended")
    long_ago = datetime.now(UTC) - timedelta(seconds=ACTIVATION_LAG_S + 1)
    await infra.publisher.publish(activated(tenant, occurred_at=long_ago))
    await settled(infra, router, tap)
    assert received(tap, wamid) == []
    ((reason, replayed_at),) = [tuple(r.values()) for r in await parked(infra, tenant.phone_number_id)]
    assert (reason, replayed_at) == ("number_suspended", None)

    await set_number_status(database_url, tenant, "active")
    await infra.publisher.publish(activated(tenant))  # number.resume's activation: a new event
    await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    await settled(infra, router, tap)
    assert len(received(tap, wamid)) == 1


async def test_an_activation_announced_before_the_directory_committed_it_waits_for_the_read_view(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    tenant = await create_tenant(database_url, status="pending")
    wamid = new_wamid()
    await infra.publisher.publish(
        raw_webhook(notification(tenant.phone_number_id, messages=[text_message("¿Y?", wamid=wamid)]))
    )
    await tap.wait_for("webhook.parked", where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id)
    await settled(infra, router, tap)

    await infra.publisher.publish(activated(tenant))  # the directory publishes, then commits a moment later
    await asyncio.sleep(0.3)
    assert received(tap, wamid) == [] and [r["reason"] for r in await parked(infra, tenant.phone_number_id)] == [
        "number_pending"
    ]
    await set_number_status(database_url, tenant, "active")
    await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    await settled(infra, router, tap)
    assert len(received(tap, wamid)) == 1


async def test_a_suspended_number_s_messages_wait_but_statuses_of_what_its_client_sent_still_count(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    sent = await business_wrote(infra, tenant, "573001112233", "Con gusto le ayudo", datetime.now(UTC))
    await set_number_status(database_url, tenant, "suspended")
    wamid, foreign = new_wamid(), new_wamid()  # ``foreign``: a message wamux never sent (the Business app's)
    statuses = [status(sent, "delivered"), status(foreign, "delivered")]
    payload = notification(tenant.phone_number_id, messages=[text_message("¿Siguen?", wamid=wamid)], statuses=statuses)
    await infra.publisher.publish(raw_webhook(payload))

    (delivered,) = await tap.wait_for("message.status", where=lambda e: e["data"]["wamid"] == sent)
    assert delivered["tenant_id"] == str(tenant.client_id) and delivered["data"]["status"] == "delivered"
    await tap.wait_for(
        "webhook.parked", count=2, where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id
    )
    await settled(infra, router, tap)
    assert received(tap, wamid) == []
    reasons = [r["reason"] for r in await parked(infra, tenant.phone_number_id)]
    assert reasons == ["number_suspended", "number_suspended"]

    await set_number_status(database_url, tenant, "active")
    await infra.publisher.publish(activated(tenant))
    await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    await tap.wait_for("message.status", where=lambda e: e["data"]["wamid"] == foreign)
    await settled(infra, router, tap)
    assert len(received(tap, wamid)) == 1
    assert len([e for e in tap.of_type("message.status") if e["data"]["wamid"] == sent]) == 1


async def test_an_unknown_number_s_message_is_replayed_once_the_number_is_added_active_and_activated(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    late, wamid = random_phone_number_id(), new_wamid()
    await infra.publisher.publish(raw_webhook(notification(late, messages=[text_message("Buenas", wamid=wamid)])))
    (event,) = await tap.wait_for("webhook.parked", where=lambda e: e["data"]["phone_number_id"] == late)
    assert event["data"]["reason"] == "unknown phone_number_id"  # as before numbers had a status

    tenant = await create_tenant(database_url, phone_number_id=late)  # the operator's add-number: active at once
    await infra.publisher.publish(activated(tenant))
    (announced,) = await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    assert announced["tenant_id"] == str(tenant.client_id)
    await settled(infra, router, tap)
    assert len(received(tap, wamid)) == 1


async def test_a_pending_number_s_coexistence_echo_waits_but_its_quality_notice_reaches_the_crm(
    infra: Infrastructure, router: Consumer[Deps], tap: Tap, database_url: str
) -> None:
    tenant = await create_tenant(database_url, status="pending")
    display, wamid = tenant.phone_number.lstrip("+"), new_wamid()
    echo = {"from": display, "to": "573001112233", "id": wamid, "timestamp": "1764000000", "type": "text"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": tenant.phone_number_id},
        "message_echoes": [{**echo, "text": {"body": "Le escribo desde la app"}}],
    }
    quality = {"display_phone_number": display, "event": "FLAGGED", "current_limit": "TIER_1K"}
    for field, change in (("smb_message_echoes", value), ("phone_number_quality_update", quality)):
        entry = {"id": tenant.waba_id, "changes": [{"field": field, "value": change}]}
        await infra.publisher.publish(raw_webhook({"object": "whatsapp_business_account", "entry": [entry]}))
    (notice,) = await tap.wait_for("number.quality_changed")
    assert notice["tenant_id"] == str(tenant.client_id)
    (waiting,) = await tap.wait_for(
        "webhook.parked", where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id
    )
    assert waiting["data"]["reason"] == "number_pending"
    await settled(infra, router, tap)
    assert tap.of_type("message.echoed") == []

    await set_number_status(database_url, tenant, "active")
    await infra.publisher.publish(activated(tenant))
    (echoed,) = await tap.wait_for("message.echoed")
    assert echoed["tenant_id"] == str(tenant.client_id)
    row = await infra.pool.fetchrow("SELECT direction, body FROM router.messages WHERE wamid = $1", wamid)
    assert tuple(row) == ("outbound", "Le escribo desde la app")

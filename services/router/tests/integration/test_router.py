"""The router with the real database and broker: store once, publish once, park what cannot be routed."""

from __future__ import annotations

import asyncpg

from router.deps import Deps
from router.handlers import record_outbound, route_webhook
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import new_wamid, notification, status, text_message
from tests.support.router import message_sent, raw_webhook
from tests.support.tenants import Tenant, move_tenant_number


async def test_customer_message_is_stored_and_published_for_its_tenant(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    wamid = new_wamid()
    payload = notification(
        tenant.phone_number_id, messages=[text_message("Hola, ¿tienen apartamentos en Chapinero?", wamid=wamid)]
    )
    await route_webhook(raw_webhook(payload), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]

    (event,) = await tap.wait_for("message.received")
    assert event["tenant_id"] == str(tenant.client_id)
    assert event["correlation_id"] == "corr-test"
    assert event["data"]["wamid"] == wamid
    assert event["data"]["text"] == "Hola, ¿tienen apartamentos en Chapinero?"
    assert event["data"]["profile_name"] == "Ana"
    row = await infra.pool.fetchrow("SELECT client_id, direction, body FROM router.messages WHERE wamid = $1", wamid)
    assert (row["client_id"], row["direction"]) == (tenant.client_id, "inbound")


async def test_redelivered_webhook_changes_nothing_and_publishes_nothing_twice(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    payload = notification(tenant.phone_number_id, messages=[text_message("uno"), text_message("dos")])
    deps = Deps(infra.pool, infra.publisher)
    for _ in range(3):
        await route_webhook(raw_webhook(payload), deps)  # type: ignore[arg-type]
    await tap.wait_for("message.received", count=2)
    stored = await infra.pool.fetchval(
        "SELECT count(*) FROM router.messages WHERE phone_number_id = $1", tenant.phone_number_id
    )
    assert stored == 2
    # A sentinel after the duplicates: once it arrives, any duplicate would have arrived too.
    await route_webhook(raw_webhook(notification(tenant.phone_number_id, messages=[text_message("tres")])), deps)  # type: ignore[arg-type]
    events = await tap.wait_for("message.received", count=3)
    assert sorted(e["data"]["text"] for e in events) == ["dos", "tres", "uno"]


async def test_every_change_of_every_entry_is_routed(infra: Infrastructure, tap: Tap, make_tenant) -> None:  # type: ignore[no-untyped-def]
    first, second = await make_tenant(), await make_tenant()
    a = notification(first.phone_number_id, messages=[text_message("para A")])
    b = notification(second.phone_number_id, messages=[text_message("para B")])
    a["entry"].append(b["entry"][0])
    await route_webhook(raw_webhook(a), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]
    events = await tap.wait_for("message.received", count=2)
    assert {(e["tenant_id"], e["data"]["text"]) for e in events} == {
        (str(first.client_id), "para A"),
        (str(second.client_id), "para B"),
    }


async def test_burst_is_published_in_meta_timestamp_order(infra: Infrastructure, tap: Tap, tenant: Tenant) -> None:
    messages = [
        text_message("tercero", timestamp=1764000003),
        text_message("primero", timestamp=1764000001),
        text_message("segundo", timestamp=1764000002),
    ]
    await route_webhook(
        raw_webhook(notification(tenant.phone_number_id, messages=messages)),  # type: ignore[arg-type]
        Deps(infra.pool, infra.publisher),
    )
    events = await tap.wait_for("message.received", count=3)
    assert [e["data"]["text"] for e in events] == ["primero", "segundo", "tercero"]


async def test_statuses_are_published_once_per_wamid_and_state(infra: Infrastructure, tap: Tap, tenant: Tenant) -> None:
    wamid = new_wamid()
    payload = notification(tenant.phone_number_id, statuses=[status(wamid, "sent"), status(wamid, "delivered")])
    deps = Deps(infra.pool, infra.publisher)
    await route_webhook(raw_webhook(payload), deps)  # type: ignore[arg-type]
    await route_webhook(raw_webhook(payload), deps)  # type: ignore[arg-type]
    events = await tap.wait_for("message.status", count=2)
    assert sorted(e["data"]["status"] for e in events) == ["delivered", "sent"]
    assert events[0]["data"]["pricing"]["pricing_model"] == "PMP"
    assert events[0]["data"]["conversation"]["origin_type"] == "service"
    count = await infra.pool.fetchval("SELECT count(*) FROM router.statuses WHERE wamid = $1", wamid)
    assert count == 2


async def test_unknown_number_is_parked_once_and_its_neighbours_still_routed(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    unknown = notification("999999999999999", messages=[text_message("¿hola?")])
    known = notification(tenant.phone_number_id, messages=[text_message("sí llega")])
    unknown["entry"].append(known["entry"][0])
    deps = Deps(infra.pool, infra.publisher)
    await route_webhook(raw_webhook(unknown), deps)  # type: ignore[arg-type]
    await route_webhook(raw_webhook(unknown), deps)  # type: ignore[arg-type]
    (received,) = await tap.wait_for("message.received")
    assert received["data"]["text"] == "sí llega"
    (parked,) = await tap.wait_for("webhook.parked")
    assert parked["data"] == {"reason": "unknown phone_number_id", "phone_number_id": "999999999999999"}
    rows = await infra.pool.fetch("SELECT reason FROM router.parked WHERE phone_number_id = '999999999999999'")
    assert [r["reason"] for r in rows] == ["unknown phone_number_id"]


async def test_body_that_is_not_a_notification_is_parked_not_looped(infra: Infrastructure, tap: Tap) -> None:
    await route_webhook(raw_webhook([1, 2, 3]), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]
    (parked,) = await tap.wait_for("webhook.parked")
    assert parked["data"]["reason"].startswith("not a Meta notification")
    conn: asyncpg.Connection
    async with infra.pool.acquire() as conn:
        kept = await conn.fetchval(
            "SELECT count(*) FROM router.parked WHERE reason LIKE 'not a Meta%' AND payload->>'raw' = '[1, 2, 3]'"
        )
        assert kept == 1


async def test_the_same_message_twice_in_one_post_is_one_message(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    message = text_message("una sola vez")
    payload = notification(tenant.phone_number_id, messages=[message, dict(message), text_message("otra")])
    await route_webhook(raw_webhook(payload), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]
    await tap.wait_for("message.received", count=2)
    await tap.drained()
    assert sorted(e["data"]["text"] for e in tap.of_type("message.received")) == ["otra", "una sola vez"]


async def test_a_status_belongs_to_the_client_that_sent_the_message_even_after_the_number_moved(
    infra: Infrastructure,
    tap: Tap,
    make_tenant,  # type: ignore[no-untyped-def]
) -> None:
    seller, buyer = await make_tenant(), await make_tenant()
    wamid = new_wamid()
    deps = Deps(infra.pool, infra.publisher)
    await record_outbound(message_sent(seller, wamid, text="Con gusto le mostramos el apartamento"), deps)
    # The number changes owner between the send and Meta's status (through the directory's own move).
    await move_tenant_number(infra.pool, seller, buyer)
    await route_webhook(raw_webhook(notification(seller.phone_number_id, statuses=[status(wamid, "delivered")])), deps)

    (event,) = await tap.wait_for("message.status", where=lambda e: e["data"]["wamid"] == wamid)
    assert event["tenant_id"] == str(seller.client_id) and event["data"]["client_id"] == str(seller.client_id)

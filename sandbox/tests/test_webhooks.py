"""Webhooks the emulator delivers: message statuses after a send, and inbound customer messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from sandbox.meta import emulator as graph_emulator
from sandbox.meta.emulator_state import EMULATOR
from sandbox.testing import WebhookReceiver, serve_app, signature_ok

PNID = "106540352242922"
WABA = "102290129340398"
DISPLAY = "15551234567"
CUSTOMER = "573001112233"


async def register(http: aiohttp.ClientSession, emulator: str) -> None:
    number = {"phone_number_id": PNID, "display_phone_number": DISPLAY, "waba_id": WABA}
    async with http.post(f"{emulator}/_sandbox/numbers", json=number) as response:
        assert response.status == 201
    async with http.get(f"{emulator}/_sandbox/numbers") as response:
        assert await response.json() == [number]


async def send(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str]) -> str:
    body = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "hola"}}
    async with http.post(f"{emulator}/v23.0/{PNID}/messages", json=body, headers=auth) as response:
        assert response.status == 200
        return str((await response.json())["messages"][0]["id"])


def only_value(payload: dict[str, Any]) -> dict[str, Any]:
    assert payload["object"] == "whatsapp_business_account"
    [entry] = payload["entry"]
    assert entry["id"] == WABA
    [change] = entry["changes"]
    assert change["field"] == "messages"
    value: dict[str, Any] = change["value"]
    assert value["messaging_product"] == "whatsapp"
    assert value["metadata"] == {"display_phone_number": DISPLAY, "phone_number_id": PNID}
    return value


async def test_statuses_arrive_signed_in_order_with_conversation_and_pricing(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession, auth: dict[str, str], app_secret: str
) -> None:
    await register(http, emulator)
    wamid = await send(http, emulator, auth)

    deliveries = [await gateway.next() for _ in range(3)]

    assert all(signature_ok(app_secret, d.body, d.signature) for d in deliveries)
    assert not signature_ok("another-secret", deliveries[0].body, deliveries[0].signature)
    statuses = [only_value(d.json())["statuses"] for d in deliveries]
    assert all(len(s) == 1 for s in statuses)
    items = [s[0] for s in statuses]
    assert [i["status"] for i in items] == ["sent", "delivered", "read"]
    assert {i["id"] for i in items} == {wamid}
    assert {i["recipient_id"] for i in items} == {CUSTOMER}
    assert all(abs(int(i["timestamp"]) - time.time()) < 60 for i in items)
    assert len({i["conversation"]["id"] for i in items}) == 1
    assert all(i["conversation"]["origin"] == {"type": "service"} for i in items)
    expiry = int(items[0]["conversation"]["expiration_timestamp"])
    assert 23 * 3600 < expiry - time.time() <= 24 * 3600
    assert ["expiration_timestamp" in i["conversation"] for i in items] == [True, False, False]
    pricing = {"billable": True, "pricing_model": "PMP", "category": "service", "type": "regular"}
    assert all(i["pricing"] == pricing for i in items)

    # A second message to the same customer within 24 h belongs to the same conversation.
    await send(http, emulator, auth)
    sent_again = only_value((await gateway.next()).json())["statuses"][0]
    assert sent_again["conversation"]["id"] == items[0]["conversation"]["id"]


async def test_failed_status_deliveries_are_retried(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    gateway.answers.extend([500, 503])
    await send(http, emulator, auth)

    deliveries = [await gateway.next() for _ in range(5)]

    statuses = [d.json()["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for d in deliveries]
    assert statuses == ["sent", "sent", "sent", "delivered", "read"]
    # Unregistered numbers still get a numeric WABA id and a display number.
    metadata = deliveries[0].json()["entry"][0]
    assert metadata["id"].isdigit()
    assert metadata["changes"][0]["value"]["metadata"]["phone_number_id"] == PNID


async def test_customer_message_posts_a_signed_inbound_webhook(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession, app_secret: str
) -> None:
    await register(http, emulator)
    message = {"phone_number_id": PNID, "from": CUSTOMER, "name": "Ana", "text": "Hola, ¿abren hoy?"}
    async with http.post(f"{emulator}/_sandbox/customer_message", json=message) as response:
        assert response.status == 200
        answer = await response.json()

    delivery = await gateway.next()

    assert answer["gateway_status"] == 200
    assert answer["wamid"].startswith("wamid.")
    assert datetime.fromisoformat(answer["sent_at"]) <= datetime.now(UTC)
    assert signature_ok(app_secret, delivery.body, delivery.signature)
    value = only_value(delivery.json())
    assert value["contacts"] == [{"profile": {"name": "Ana"}, "wa_id": CUSTOMER}]
    [inbound] = value["messages"]
    assert inbound == {
        "from": CUSTOMER,
        "id": answer["wamid"],
        "timestamp": inbound["timestamp"],
        "type": "text",
        "text": {"body": "Hola, ¿abren hoy?"},
    }
    assert abs(int(inbound["timestamp"]) - time.time()) < 60
    assert "statuses" not in value


async def test_customer_message_reports_the_gateways_refusal_without_retrying(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession
) -> None:
    gateway.answers.append(401)
    message = {"phone_number_id": PNID, "display_phone_number": "15559999999", "from": CUSTOMER, "text": "hi"}
    async with http.post(f"{emulator}/_sandbox/customer_message", json=message) as response:
        answer = await response.json()

    assert answer["gateway_status"] == 401
    delivery = await gateway.next()
    assert delivery.json()["entry"][0]["changes"][0]["value"]["metadata"]["display_phone_number"] == "15559999999"
    await asyncio.sleep(0.1)
    assert gateway.deliveries.empty()


async def test_no_webhooks_when_the_url_is_empty(
    start_emulator: Callable[..., Awaitable[str]],
    gateway: WebhookReceiver,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
) -> None:
    emulator = await start_emulator(sandbox_webhook_url="")
    await send(http, emulator, auth)
    message = {"phone_number_id": PNID, "from": CUSTOMER, "text": "hi"}
    async with http.post(f"{emulator}/_sandbox/customer_message", json=message) as response:
        assert response.status == 409
    await asyncio.sleep(0.1)
    assert gateway.deliveries.empty()


async def test_cleanup_cancels_pending_status_deliveries(
    gateway: WebhookReceiver, make_settings: Callable[..., Any], http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    app = graph_emulator.create_app(make_settings(sandbox_status_delay_s=60))
    url, server = await serve_app(app)
    await send(http, url, auth)
    await gateway.next()  # "sent"; "delivered" waits a minute
    assert len(app[EMULATOR].tasks) == 1

    started = time.monotonic()
    await server.close()

    assert time.monotonic() - started < 5
    assert not app[EMULATOR].tasks


async def test_biz_opaque_callback_data_comes_back_on_every_status(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    await register(http, emulator)
    body = {
        "messaging_product": "whatsapp",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "hola"},
        "biz_opaque_callback_data": "send-7f3a",
    }
    async with http.post(f"{emulator}/v23.0/{PNID}/messages", json=body, headers=auth) as response:
        assert response.status == 200
    items = [only_value((await gateway.next()).json())["statuses"][0] for _ in range(3)]
    assert [i["biz_opaque_callback_data"] for i in items] == ["send-7f3a"] * 3

"""``/{waba_id}/subscribed_apps``: subscribe, then override the callback (Meta's order), and where webhooks go."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from sandbox.testing import WebhookReceiver

V = "v23.0"
WABA = "102290129340398"
CUSTOMER = "573001112233"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def override_endpoint(start_app: Any, verify_token: str) -> tuple[str, WebhookReceiver]:
    """A second webhook endpoint that answers Meta's hub.challenge for its own verify token only."""
    receiver = WebhookReceiver()
    app = receiver.app("/override")

    async def challenge(request: web.Request) -> web.Response:
        if request.query.get("hub.mode") == "subscribe" and request.query.get("hub.verify_token") == verify_token:
            return web.Response(text=request.query["hub.challenge"])
        return web.Response(status=403)

    app.router.add_get("/override", challenge)
    receiver.url = await start_app(app) + "/override"
    return receiver.url, receiver


async def registered_number(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str]) -> str:
    body = {"cc": "57", "phone_number": "3105556677", "verified_name": "Ferretería"}
    _, added = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=body)
    pnid = str(added["id"])
    await call(
        http, "POST", f"{emulator}/{V}/{pnid}/request_code", auth, params={"code_method": "SMS", "language": "es"}
    )
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        code = (await response.json())["last_code"]
    await call(http, "POST", f"{emulator}/{V}/{pnid}/verify_code", auth, params={"code": code})
    register = {"messaging_product": "whatsapp", "pin": "123456"}
    assert (await call(http, "POST", f"{emulator}/{V}/{pnid}/register", auth, json=register))[0] == 200
    return pnid


async def test_overriding_the_callback_before_subscribing_is_metas_100(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], start_app: Any
) -> None:
    url, _ = await override_endpoint(start_app, "vt-1")
    body = {"override_callback_uri": url, "verify_token": "vt-1"}

    status, answer = await call(http, "POST", f"{emulator}/{V}/{WABA}/subscribed_apps", auth, json=body)

    assert status == 400
    error = answer["error"]
    assert error.pop("fbtrace_id")
    assert error == {
        "message": "(#100) Before override the current callback uri, your app must be subscribed to receive "
        "messages for WhatsApp Business Account",
        "type": "OAuthException",
        "code": 100,
    }
    assert await call(http, "GET", f"{emulator}/{V}/{WABA}/subscribed_apps", auth) == (200, {"data": []})


async def test_subscribe_then_override_sends_the_wabas_webhooks_to_the_override(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], start_app: Any, gateway: WebhookReceiver
) -> None:
    pnid = await registered_number(http, emulator, auth)
    url, override = await override_endpoint(start_app, "vt-2")
    subscriptions = f"{emulator}/{V}/{WABA}/subscribed_apps"
    assert await call(http, "POST", subscriptions, auth) == (200, {"success": True})
    body = {"override_callback_uri": url, "verify_token": "vt-2"}
    assert await call(http, "POST", subscriptions, auth, json=body) == (200, {"success": True})

    status, listing = await call(http, "GET", subscriptions, auth)
    assert status == 200
    [entry] = listing["data"]
    assert entry["override_callback_uri"] == url
    assert set(entry["whatsapp_business_api_data"]) == {"id", "name", "link"}

    message = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "hola"}}
    assert (await call(http, "POST", f"{emulator}/{V}/{pnid}/messages", auth, json=message))[0] == 200
    delivered = (await override.next()).json()
    assert delivered["entry"][0]["id"] == WABA
    assert delivered["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] == "sent"
    assert gateway.deliveries.empty()

    # A plain subscribe again drops the override: webhooks go back to the app's callback.
    assert await call(http, "POST", subscriptions, auth) == (200, {"success": True})
    customer = {"phone_number_id": pnid, "from": CUSTOMER, "text": "gracias"}
    async with http.post(f"{emulator}/_sandbox/customer_message", json=customer) as response:
        assert response.status == 200
    while True:
        value = (await gateway.next()).json()["entry"][0]["changes"][0]["value"]
        if "messages" in value:
            break
    assert value["messages"][0]["text"] == {"body": "gracias"}


async def test_an_override_that_fails_the_challenge_is_2200_and_not_kept(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], start_app: Any
) -> None:
    url, _ = await override_endpoint(start_app, "the-right-token")
    subscriptions = f"{emulator}/{V}/{WABA}/subscribed_apps"
    await call(http, "POST", subscriptions, auth)

    body = {"override_callback_uri": url, "verify_token": "a-wrong-token"}
    status, answer = await call(http, "POST", subscriptions, auth, json=body)

    assert (status, answer["error"]["code"]) == (400, 2200)
    assert answer["error"]["message"].startswith("(#2200) Callback verification failed with the following errors")
    assert "403" in answer["error"]["message"]
    [entry] = (await call(http, "GET", subscriptions, auth))[1]["data"]
    assert "override_callback_uri" not in entry


async def test_unsubscribing_empties_the_list(emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    subscriptions = f"{emulator}/{V}/{WABA}/subscribed_apps"
    await call(http, "POST", subscriptions, auth)
    assert await call(http, "DELETE", subscriptions, auth) == (200, {"success": True})
    assert await call(http, "GET", subscriptions, auth) == (200, {"data": []})

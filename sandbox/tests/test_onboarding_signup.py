"""The hosted signup stand-in, clicked through over HTTP: the page, its Accept form, the redirect, the code.

Then the onboarding Meta asks for (exchange, subscribe, register) and the number at work: it sends, and a
customer's message to it reaches the gateway addressed to it.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from sandbox.testing import WebhookReceiver

V = "v23.0"
APP_ID, CONFIG_ID = "1000000000000001", "2000000000000002"
SIGNUP = "/messaging/whatsapp/onboard/"


class FormReader(HTMLParser):
    """The page's one form: its hidden fields and its buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []
        self.forms = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms += 1
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values["value"]
        elif tag == "button":
            self.buttons.append(values.get("name", ""))


async def redirect_target(start_app: Any) -> tuple[str, list[dict[str, str]]]:
    """Where the client's browser lands after signup: records the query it was sent back with."""
    landed: list[dict[str, str]] = []

    async def land(request: web.Request) -> web.Response:
        landed.append(dict(request.query))
        return web.Response(text="thanks")

    app = web.Application()
    app.router.add_get("/onboarding/done", land)
    return await start_app(app) + "/onboarding/done", landed


def link(emulator: str, extras: dict[str, Any], **more: str) -> str:
    query = {"app_id": APP_ID, "config_id": CONFIG_ID, "extras": json.dumps(extras), **more}
    return str(URL(emulator + SIGNUP).with_query(query))


async def open_and_accept(http: aiohttp.ClientSession, url: str) -> tuple[str, aiohttp.ClientResponse]:
    async with http.get(url) as page:
        assert page.status == 200 and page.content_type == "text/html"
        html = await page.text()
    form = FormReader()
    form.feed(html)
    assert form.forms == 1 and form.buttons == ["accept"]
    async with http.post(url.split("?")[0], data={**form.fields, "accept": "1"}) as response:
        await response.read()
        return html, response


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def exchange(http: aiohttp.ClientSession, emulator: str, code: str, secret: str) -> str:
    params = {"client_id": APP_ID, "client_secret": secret, "code": code}
    status, body = await call(http, "GET", f"{emulator}/{V}/oauth/access_token", {}, params=params)
    assert status == 200 and body["token_type"] == "bearer"
    return str(body["access_token"])


async def partner_added(gateway: WebhookReceiver) -> dict[str, Any]:
    while True:
        payload: dict[str, Any] = (await gateway.next()).json()
        change = payload["entry"][0]["changes"][0]
        if change["field"] == "account_update":
            return payload


async def test_accepting_the_signup_page_redirects_with_the_code_and_ids_then_the_number_works(
    emulator: str, http: aiohttp.ClientSession, start_app: Any, gateway: WebhookReceiver, app_secret: str
) -> None:
    done, landed = await redirect_target(start_app)
    extras = {"setup": {"business": {"name": "Café Aurora", "phone": {"code": 57, "number": "3004445566"}}}}
    url = link(emulator, extras, redirect_uri=done + "?tenant=t-1", state="st-42")

    html, response = await open_and_accept(http, url)

    assert "Café Aurora" in html and "+57 3004445566" in html and "Accept" in html
    assert str(response.url).startswith(done) and response.status == 200
    [query] = landed
    assert set(query) == {"tenant", "code", "state", "waba_id", "business_id", "phone_number_id"}
    assert (query["tenant"], query["state"]) == ("t-1", "st-42")
    waba_id, pnid = query["waba_id"], query["phone_number_id"]
    event = await partner_added(gateway)
    assert event["entry"][0]["changes"][0]["value"] == {
        "event": "PARTNER_ADDED",
        "waba_info": {"waba_id": waba_id, "owner_business_id": query["business_id"]},
    }

    token = await exchange(http, emulator, query["code"], app_secret)
    business = {"Authorization": f"Bearer {token}"}
    status, number = await call(http, "GET", f"{emulator}/{V}/{pnid}", business)
    assert (status, number["code_verification_status"], number["platform_type"]) == (200, "VERIFIED", "NOT_APPLICABLE")
    assert number["verified_name"] == "Café Aurora"
    assert await call(http, "POST", f"{emulator}/{V}/{waba_id}/subscribed_apps", business) == (200, {"success": True})
    register = {"messaging_product": "whatsapp", "pin": "314159"}
    assert await call(http, "POST", f"{emulator}/{V}/{pnid}/register", business, json=register) == (
        200,
        {"success": True},
    )

    message = {"messaging_product": "whatsapp", "to": "573001234567", "type": "text", "text": {"body": "¡Hola!"}}
    status, sent = await call(http, "POST", f"{emulator}/{V}/{pnid}/messages", business, json=message)
    assert status == 200 and sent["messages"][0]["id"].startswith("wamid.")
    customer = {"phone_number_id": pnid, "from": "573001234567", "text": "¿Abren hoy?"}
    async with http.post(f"{emulator}/_sandbox/customer_message", json=customer) as response:
        assert (response.status, (await response.json())["gateway_status"]) == (200, 200)
    for _ in range(10):
        value = (await gateway.next()).json()["entry"][0]["changes"][0]["value"]
        if "messages" in value:
            break
    assert value["metadata"] == {"display_phone_number": "573004445566", "phone_number_id": pnid}
    assert value["messages"][0]["text"] == {"body": "¿Abren hoy?"}


async def test_without_a_redirect_the_page_shows_the_code_and_its_token_reaches_its_own_waba_only(
    emulator: str, http: aiohttp.ClientSession, app_secret: str, auth: dict[str, str]
) -> None:
    _, finished = await open_and_accept(http, link(emulator, {}))
    html = await finished.text()
    assert finished.status == 200 and "+1 555" in html  # no number pre-filled: a new +1 555 test number
    code = html.split("<dt>code</dt><dd>")[1].split("</dd>")[0]
    token = {"Authorization": f"Bearer {await exchange(http, emulator, code, app_secret)}"}
    other_waba = "555444333222111"
    body = {"cc": "34", "phone_number": "612345678", "verified_name": "Bar Sol"}
    status, added = await call(http, "POST", f"{emulator}/{V}/{other_waba}/phone_numbers", auth, json=body)
    assert status == 200

    for url in (f"{emulator}/{V}/{other_waba}/phone_numbers", f"{emulator}/{V}/{added['id']}"):
        status, refused = await call(http, "GET", url, token)
        assert (status, refused["error"]["code"], refused["error"]["error_subcode"]) == (400, 100, 33)


async def test_a_coexistence_signup_names_only_the_waba_and_its_number_sends_without_register(
    emulator: str, http: aiohttp.ClientSession, start_app: Any, app_secret: str
) -> None:
    done, landed = await redirect_target(start_app)
    extras = {
        "featureType": "whatsapp_business_app_onboarding",
        "setup": {"business": {"name": "Tienda Mar", "phone": {"code": "52", "number": "5512345678"}}},
    }
    html, _ = await open_and_accept(http, link(emulator, extras, redirect_uri=done))
    assert "coexistence" in html
    [query] = landed
    assert "phone_number_id" not in query  # the coexistence finish event carries the WABA only
    business = {"Authorization": f"Bearer {await exchange(http, emulator, query['code'], app_secret)}"}

    status, listing = await call(
        http, "GET", f"{emulator}/{V}/{query['waba_id']}/phone_numbers?fields=is_on_biz_app,platform_type", business
    )
    [number] = listing["data"]
    assert (number["is_on_biz_app"], number["platform_type"]) == (True, "CLOUD_API")
    register = {"messaging_product": "whatsapp", "pin": "123456"}
    status, body = await call(http, "POST", f"{emulator}/{V}/{number['id']}/register", business, json=register)
    assert (status, body["error"]["code"]) == (400, 100)
    message = {"messaging_product": "whatsapp", "to": "5215550001", "type": "text", "text": {"body": "hola"}}
    assert (await call(http, "POST", f"{emulator}/{V}/{number['id']}/messages", business, json=message))[0] == 200


async def test_the_page_escapes_what_the_link_carries(emulator: str, http: aiohttp.ClientSession) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    url = link(emulator, {"setup": {"business": {"name": hostile}}}, state=hostile)
    async with http.get(url) as page:
        html = await page.text()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img" in html


async def test_a_link_for_another_app_or_configuration_gets_an_error_page(
    emulator: str, http: aiohttp.ClientSession
) -> None:
    for query in ({"app_id": "42", "config_id": CONFIG_ID}, {"app_id": APP_ID, "config_id": "42"}):
        async with http.get(emulator + SIGNUP, params=query) as page:
            assert page.status == 400 and "Something went wrong" in await page.text()
    bad = {"app_id": APP_ID, "config_id": CONFIG_ID, "redirect_uri": "javascript:alert(1)"}
    async with http.post(emulator + SIGNUP, data=bad) as response:
        assert response.status == 400 and "redirect_uri" in await response.text()

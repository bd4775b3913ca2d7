"""The signup page's Embedded Signup popup against the real PostgreSQL and RabbitMQ: the button's parameters and
the page's CSP, ``/onboard/signup.js``, and ``POST /onboard/{token}/complete`` publishing the same
``number.complete_signup`` as the hosted page's callback (the directory a process, the emulator Meta's side)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.settings import GatewaySettings
from services.gateway.tests.signup_support import (
    Onboarding,
    free_port,
    gateway_settings,
    register_for_signup,
    running_directory,
    running_gateway,
    wait_until,
)
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number

pytestmark = pytest.mark.integration


class Elements(HTMLParser):
    """Each element's attributes by id, and the scripts' sources."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str]] = {}
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if "id" in values:
            self.by_id[values["id"]] = values
        if tag == "script":
            self.scripts.append(values.get("src", ""))


class Popup:
    def __init__(self, url: str, settings: GatewaySettings, infra: Infrastructure, tap: Tap) -> None:
        self.url, self.settings, self.infra, self.tap = url, settings, infra, tap

    async def onboarding(self, **kwargs: Any) -> Onboarding:
        return await register_for_signup(self.infra, self.tap, phone_number=random_phone_number(), **kwargs)

    async def complete(self, token: str, body: object, *, raw: str | None = None) -> tuple[int, dict[str, Any]]:
        payload = {"data": raw} if raw is not None else {"json": body}
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/onboard/{token}/complete", **payload) as answer,  # type: ignore[arg-type]
        ):
            assert answer.content_type == "application/json", await answer.text()
            return answer.status, await answer.json()

    async def published(self, onboarding: Onboarding) -> list[dict[str, Any]]:
        await self.tap.drained()
        return [
            m
            for m in self.tap.of_type("number.complete_signup")
            if m["data"]["onboarding_id"] == str(onboarding.onboarding_id)
        ]


@pytest.fixture
async def popup(
    settings: GatewaySettings, infra: Infrastructure, tap: Tap, sandbox: Sandbox, tmp_path: Path
) -> AsyncIterator[Popup]:
    own = gateway_settings(settings, port=free_port(), graph_url=sandbox.graph_url)
    async with running_directory(own, infra, tmp_path / "directory.log"), running_gateway(own) as url:
        yield Popup(url, own, infra, tap)


async def test_the_popup_button_names_the_app_its_configuration_the_sdk_and_the_link(popup: Popup) -> None:
    onboarding = await popup.onboarding(language="en", coexistence=True)
    async with aiohttp.ClientSession() as session, session.get(f"{popup.url}/onboard/{onboarding.token}") as answer:
        assert answer.status == 200
        page, policy = await answer.text(), answer.headers["Content-Security-Policy"]
    elements = Elements()
    elements.feed(page)
    button = elements.by_id["popup"]
    assert "disabled" in button  # until signup.js has loaded the SDK
    assert button["data-app-id"] == "1000000000000001" and button["data-config-id"] == "2000000000000002"
    assert button["data-version"] == popup.settings.graph_api_version and button["data-token"] == onboarding.token
    emulator = popup.settings.graph_base_url
    assert button["data-sdk-url"] == f"{emulator}/sdk.js" and button["data-message-origins"] == emulator
    extras = json.loads(button["data-extras"])
    assert extras["featureType"] == "whatsapp_business_app_onboarding" and extras["setup"]["business"]["phone"]
    assert elements.scripts == ["/onboard/signup.js"]
    assert "Meta's window is open" in elements.by_id["popup-status"]["data-opening"]
    assert "/messaging/whatsapp/onboard/" in elements.by_id["action"]["href"]  # Meta's hosted page, under it
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == f"'self' {emulator}" and directives["connect-src"] == "'self'"
    assert directives["frame-src"] == emulator and directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy


async def test_signup_js_is_served_as_a_script_from_the_gateway(popup: Popup) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{popup.url}/onboard/signup.js") as answer:
        assert answer.status == 200 and answer.content_type == "text/javascript"
        body = await answer.text()
    assert "WA_EMBEDDED_SIGNUP" in body and "override_default_response_type: true" in body
    assert "/complete" in body and answer.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_popup_s_answer_publishes_one_complete_signup_as_the_callback_would(
    popup: Popup, capfd: pytest.CaptureFixture[str]
) -> None:
    onboarding = await popup.onboarding(language="es")
    answer = {
        "code": "popup-code-1",
        "waba_id": "300000000000011",
        "phone_number_id": "500000000000011",
        "business_id": "400000000000011",
    }
    status, body = await popup.complete(onboarding.token, answer)
    assert status == 200 and body == {"status_url": f"/onboard/{onboarding.token}/status"}, body
    again = await popup.complete(onboarding.token, answer)  # a retried POST before the directory used the link
    assert again[0] in (200, 409), again
    sent = await popup.published(onboarding)
    assert len({m["id"] for m in sent}) == 1, sent
    assert sent[0]["tenant_id"] == str(onboarding.client_id)
    assert sent[0]["data"] == {
        "onboarding_id": str(onboarding.onboarding_id),
        **answer,
        "link_id": str(onboarding.link_id),
    }
    # The callback publishes the very same envelope for the same code: one command, whichever door it came by.
    callback = f"/onboard/callback?state={onboarding.token}&" + "&".join(f"{k}={v}" for k, v in answer.items())
    async with aiohttp.ClientSession() as session, session.get(popup.url + callback, allow_redirects=False) as reply:
        assert reply.status in (200, 303)
    assert len({m["id"] for m in await popup.published(onboarding)}) == 1
    logged = capfd.readouterr()
    assert "signup.completed" in logged.out + logged.err
    assert onboarding.token not in logged.out + logged.err and "popup-code-1" not in logged.out + logged.err


async def test_coexistence_s_answer_names_only_the_waba(popup: Popup) -> None:
    onboarding = await popup.onboarding(coexistence=True)
    status, body = await popup.complete(onboarding.token, {"code": "coex-code", "waba_id": "300000000000012"})
    assert status == 200, body
    sent = await popup.published(onboarding)
    assert sent[0]["data"]["waba_id"] == "300000000000012" and sent[0]["data"]["phone_number_id"] is None


@pytest.mark.parametrize(
    ("body", "raw", "named"),
    [
        (None, "not json {", "not a JSON object"),
        (["code", "waba_id"], None, "not a JSON object"),
        ({"waba_id": "300000000000013"}, None, "code: Field required"),
        ({"code": "c", "waba_id": "WABA-13"}, None, "waba_id: String should match pattern"),
        ({"code": "", "waba_id": "300000000000013"}, None, "code: String should have at least 1 character"),
        ({"code": "c", "waba_id": "1", "onboarding_id": "x"}, None, "onboarding_id: Extra inputs are not permitted"),
    ],
)
async def test_a_body_that_is_not_meta_s_answer_is_a_400_that_says_what_is_wrong_and_publishes_nothing(
    popup: Popup, body: object, raw: str | None, named: str
) -> None:
    onboarding = await popup.onboarding()
    status, answer = await popup.complete(onboarding.token, body, raw=raw)
    assert status == 400 and named in answer["error"], answer
    assert "{code, waba_id, phone_number_id?, business_id?}" in answer["error"]
    assert not await popup.published(onboarding)


async def test_a_used_link_is_a_409_pointing_to_the_connection_s_progress(popup: Popup) -> None:
    onboarding = await popup.onboarding(language="en")
    first = {"code": "used-1", "waba_id": "300000000000014", "phone_number_id": "500000000000014"}
    assert (await popup.complete(onboarding.token, first))[0] == 200
    await wait_until(
        popup.infra, "SELECT used_at IS NOT NULL FROM directory_read.signup_links WHERE id = $1", onboarding.link_id
    )
    status, body = await popup.complete(onboarding.token, {**first, "code": "used-2"})
    assert status == 409, body
    assert body == {"error": "This link has already been used", "status_url": f"/onboard/{onboarding.token}/status"}
    assert {m["data"]["code"] for m in await popup.published(onboarding)} == {"used-1"}


async def test_a_link_wamux_did_not_sign_is_a_404_in_json(popup: Popup) -> None:
    status, body = await popup.complete("not-a-link-at-all-xx", {"code": "c", "waba_id": "1"})
    assert status == 404 and "This link is not valid" in body["error"], body

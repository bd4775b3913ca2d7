"""The emulator's stand-in for Meta's JS SDK over HTTP: ``/sdk.js``, and the signup page in the popup's
``post_message`` mode (its answer is a page whose ``finish.js`` posts Meta's session info and the code to the
opener). The scripts themselves run in Chromium in services/gateway/tests/e2e/test_signup_browser.py."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest

from sandbox.tests.test_onboarding_signup import APP_ID, CONFIG_ID, SIGNUP, FormReader, exchange, link

OPENER = "http://127.0.0.1:8080"


class Finish(HTMLParser):
    """The popup's last page: the ``#finish`` element's data and the scripts it loads."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if values.get("id") == "finish":
            self.data = {k.removeprefix("data-"): v for k, v in values.items() if k.startswith("data-")}
        if tag == "script":
            self.scripts.append(values.get("src", ""))


async def answer(http: aiohttp.ClientSession, url: str, button: str) -> tuple[int, Finish, str]:
    async with http.get(url) as page:
        assert page.status == 200, await page.text()
        form = FormReader()
        form.feed(await page.text())
    assert form.buttons == ["accept", "cancel"]
    async with http.post(url.split("?")[0], data={**form.fields, button: "1"}, allow_redirects=False) as response:
        finish = Finish()
        body = await response.text()
        finish.feed(body)
        return response.status, finish, body


def popup_link(emulator: str, extras: dict[str, Any], **more: str) -> str:
    return link(emulator, extras, response_mode="post_message", opener_origin=OPENER, **more)


async def test_sdk_js_defines_fb_init_and_login_for_any_origin(http: aiohttp.ClientSession, emulator: str) -> None:
    async with http.get(emulator + "/sdk.js") as script:
        assert script.status == 200 and script.content_type == "text/javascript"
        assert script.headers["Access-Control-Allow-Origin"] == "*"  # loaded with crossorigin="anonymous"
        body = await script.text()
    assert "window.FB = { init, login }" in body and "window.fbAsyncInit()" in body
    assert 'response_mode: "post_message"' in body and "opener_origin: window.location.origin" in body


async def test_accept_in_the_popup_posts_finish_with_the_ids_and_a_code_that_exchanges(
    http: aiohttp.ClientSession, emulator: str, app_secret: str
) -> None:
    extras = {"setup": {"business": {"name": "Popup Café", "phone": {"code": "57", "number": "3001234501"}}}}
    status, finish, _ = await answer(http, popup_link(emulator, extras), "accept")
    assert status == 200 and finish.scripts == ["/messaging/whatsapp/onboard/finish.js"]
    session = json.loads(finish.data["session"])
    assert session["type"] == "WA_EMBEDDED_SIGNUP" and session["event"] == "FINISH"
    assert set(session["data"]) == {"phone_number_id", "waba_id", "business_id"}
    assert finish.data["opener-origin"] == OPENER
    token = await exchange(http, emulator, finish.data["code"], app_secret)
    assert token
    async with http.get(emulator + "/messaging/whatsapp/onboard/finish.js") as script:
        assert script.status == 200 and 'postMessage(node.dataset.session, "*")' in await script.text()


async def test_coexistence_in_the_popup_finishes_naming_only_the_waba(
    http: aiohttp.ClientSession, emulator: str
) -> None:
    extras = {"featureType": "whatsapp_business_app_onboarding"}
    status, finish, _ = await answer(http, popup_link(emulator, extras), "accept")
    assert status == 200
    session = json.loads(finish.data["session"])
    assert session["event"] == "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING" and list(session["data"]) == ["waba_id"]
    assert finish.data["code"]


async def test_cancel_in_the_popup_posts_cancel_at_its_step_and_no_code(
    http: aiohttp.ClientSession, emulator: str
) -> None:
    status, finish, _ = await answer(http, popup_link(emulator, {}), "cancel")
    assert status == 200
    assert json.loads(finish.data["session"]) == {
        "type": "WA_EMBEDDED_SIGNUP",
        "event": "CANCEL",
        "data": {"current_step": "PHONE_NUMBER_SETUP"},
        "version": "3",
    }
    assert "code" not in finish.data


@pytest.mark.parametrize(
    ("more", "said"),
    [
        ({"response_mode": "fragment", "opener_origin": OPENER}, "response_mode must be post_message"),
        ({"response_mode": "post_message", "opener_origin": "javascript:alert(1)"}, "opener_origin must be"),
        ({"response_mode": "post_message", "opener_origin": OPENER + "/path"}, "opener_origin must be"),
        ({"response_mode": "post_message"}, "opener_origin must be"),
    ],
)
async def test_a_popup_without_a_web_origin_to_answer_is_refused(
    http: aiohttp.ClientSession, emulator: str, more: dict[str, str], said: str
) -> None:
    async with http.get(link(emulator, {}, **more)) as page:
        assert page.status == 400 and said in await page.text()
    form = {"app_id": APP_ID, "config_id": CONFIG_ID, "extras": "{}", "accept": "1", **more}
    async with http.post(emulator + SIGNUP, data=form) as accepted:
        assert accepted.status == 400 and said in await accepted.text()

"""Onboarding calls failed on demand (``POST /_sandbox/faults`` with an ``edge``): Meta's body for the code, as many
times as asked, only for the number or WABA named, and nothing changed by the refused call."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from sandbox.testing import clear_faults, inject_fault
from sandbox.tests.test_onboarding_oauth import APP_ID, exchange, signup_code, without_trace
from sandbox.tests.test_onboarding_register import call, register, verified_number

V = "v23.0"
WABA, OTHER_WABA = "102290129340398", "102290129340399"


async def number_state(http: aiohttp.ClientSession, emulator: str, pnid: str) -> dict[str, Any]:
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        return dict(await response.json())


async def test_a_register_fault_answers_metas_133016_once_and_the_refused_call_changes_nothing(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    stored = await inject_fault(http, emulator, edge="register", code=133016, phone_number_id=pnid)
    assert stored["remaining"] == 1 and stored["edge"] == "register"

    status, body = await register(http, emulator, auth, pnid, "123456")

    assert status == 400
    assert without_trace(body) == {
        "message": "(#133016) Account register deregister rate limit exceeded",
        "type": "OAuthException",
        "code": 133016,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "Too many registration attempts for this phone number (10 in 72 hours): it is blocked for "
            "72 hours.",
        },
    }
    state = await number_state(http, emulator, pnid)
    assert (state["registered"], state["two_step_pin_set"], state["register_requests"]) == (False, False, 0)
    assert await register(http, emulator, auth, pnid, "123456") == (200, {"success": True})
    assert (await number_state(http, emulator, pnid))["registered"] is True


async def test_a_fault_for_one_number_leaves_another_numbers_call_alone(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    await inject_fault(http, emulator, edge="register", code=133005, phone_number_id="999999999999999")

    assert await register(http, emulator, auth, pnid, "123456") == (200, {"success": True})
    async with http.get(f"{emulator}/_sandbox/faults") as response:
        assert [f["phone_number_id"] for f in await response.json()] == ["999999999999999"]


async def test_a_subscribe_fault_refuses_the_next_n_posts_to_that_waba_with_an_oauth_exception(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    await inject_fault(http, emulator, edge="subscribed_apps", code=10, count=2, waba_id=WABA)
    apps = f"{emulator}/{V}/{WABA}/subscribed_apps"

    assert (await call(http, "POST", f"{emulator}/{V}/{OTHER_WABA}/subscribed_apps", auth))[0] == 200
    for _ in range(2):
        status, body = await call(http, "POST", apps, auth)
        assert status == 403
        error = without_trace(body)
        assert (error["type"], error["code"], error["message"]) == ("OAuthException", 10, "(#10) Permission Denied")
        assert await call(http, "GET", apps, auth) == (200, {"data": []})  # not subscribed by a refused call
    assert await call(http, "POST", apps, auth) == (200, {"success": True})
    assert len((await call(http, "GET", apps, auth))[1]["data"]) == 1


async def test_a_code_exchange_fault_has_no_error_data_and_leaves_the_code_unspent(
    emulator: str, http: aiohttp.ClientSession, app_secret: str
) -> None:
    code = (await signup_code(http, emulator))["code"]
    await inject_fault(http, emulator, edge="oauth/access_token", code=1, http_status=500)

    status, body = await exchange(http, emulator, client_id=APP_ID, client_secret=app_secret, code=code)

    assert status == 500
    error = without_trace(body)
    assert error["code"] == 1 and "error_data" not in error
    status, body = await exchange(http, emulator, client_id=APP_ID, client_secret=app_secret, code=code)
    assert status == 200 and body["access_token"].startswith("EAA")


async def test_code_and_add_number_faults_refuse_their_call_and_then_let_it_through(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    add = {"cc": "57", "phone_number": "3105550011", "verified_name": "Panadería"}
    await inject_fault(http, emulator, edge="phone_numbers", code=100, details="The phone number is invalid.")
    status, body = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=add)
    assert (status, body["error"]["error_data"]["details"]) == (400, "The phone number is invalid.")
    assert (await call(http, "GET", f"{emulator}/{V}/{WABA}/phone_numbers", auth))[1]["data"] == []
    pnid = str((await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=add))[1]["id"])

    request_code = f"{emulator}/{V}/{pnid}/request_code?code_method=SMS&language=es"
    await inject_fault(http, emulator, edge="request_code", code=136024, phone_number_id=pnid)
    status, body = await call(http, "POST", request_code, auth)
    assert (status, body["error"]["code"]) == (400, 136024)
    assert (await number_state(http, emulator, pnid))["code_pending"] is False
    assert (await call(http, "POST", request_code, auth))[0] == 200

    code = (await number_state(http, emulator, pnid))["last_code"]
    await inject_fault(http, emulator, edge="verify_code", code=136025, phone_number_id=pnid)
    verify = f"{emulator}/{V}/{pnid}/verify_code"
    assert (await call(http, "POST", verify, auth, params={"code": code}))[1]["error"]["code"] == 136025
    assert await call(http, "POST", verify, auth, params={"code": code}) == (200, {"success": True})


async def test_a_send_fault_and_an_onboarding_fault_never_take_each_others_call(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    await inject_fault(http, emulator, code=131047, phone_number_id=pnid)  # a send fault on the same number
    assert await register(http, emulator, auth, pnid, "123456") == (200, {"success": True})
    async with http.get(f"{emulator}/_sandbox/faults") as response:
        assert [f["edge"] for f in await response.json()] == [None]
    await clear_faults(http, emulator)
    async with http.get(f"{emulator}/_sandbox/faults") as response:
        assert await response.json() == []


@pytest.mark.parametrize(
    "fault",
    [
        {"edge": "register"},  # no code
        {"edge": "register", "code": 133016, "to": "573001112233"},
        {"edge": "register", "code": 133016, "waba_id": WABA},
        {"edge": "subscribed_apps", "code": 10, "phone_number_id": "106540352242922"},
        {"edge": "oauth/access_token", "code": 1, "waba_id": WABA},
        {"edge": "register", "media_corrupt": True},
        {"code": 131047, "waba_id": WABA},  # a send fault names a number, not a WABA
        {"edge": "messages", "code": 131047},
    ],
)
async def test_an_onboarding_fault_names_a_known_edge_and_only_the_object_it_is_called_on(
    emulator: str, http: aiohttp.ClientSession, fault: dict[str, Any]
) -> None:
    async with http.post(f"{emulator}/_sandbox/faults", json=fault) as response:
        assert response.status == 400, await response.text()

"""The manual number path against the emulator: add a number, request and verify its code, register it."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

WABA = "102290129340398"
V = "v23.0"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def add_number(
    http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], phone_number: str = "3001112233"
) -> str:
    body = {"cc": "57", "phone_number": phone_number, "verified_name": "Panadería Luz"}
    status, answer = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=body)
    assert status == 200, answer
    assert set(answer) == {"id"} and answer["id"].isdigit()
    return str(answer["id"])


async def sandbox_view(http: aiohttp.ClientSession, emulator: str, pnid: str) -> dict[str, Any]:
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        assert response.status == 200
        view: dict[str, Any] = await response.json()
        return view


async def verify(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], pnid: str) -> None:
    params = {"code_method": "SMS", "language": "en_US"}
    assert await call(http, "POST", f"{emulator}/{V}/{pnid}/request_code", auth, params=params) == (
        200,
        {"success": True},
    )
    code = (await sandbox_view(http, emulator, pnid))["last_code"]
    assert await call(http, "POST", f"{emulator}/{V}/{pnid}/verify_code", auth, params={"code": code}) == (
        200,
        {"success": True},
    )


def register_body(pin: str = "123456") -> dict[str, str]:
    return {"messaging_product": "whatsapp", "pin": pin}


async def test_a_number_added_by_hand_is_verified_by_sms_then_registered_then_sends(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth)
    message = {"messaging_product": "whatsapp", "to": "573009998877", "type": "text", "text": {"body": "hola"}}
    status, body = await call(http, "POST", f"{emulator}/{V}/{pnid}/messages", auth, json=message)
    assert (status, body["error"]["code"]) == (400, 133010)

    await verify(http, emulator, auth, pnid)
    status, body = await call(http, "POST", f"{emulator}/{V}/{pnid}/register", auth, json=register_body())
    assert (status, body) == (200, {"success": True})

    status, body = await call(http, "POST", f"{emulator}/{V}/{pnid}/messages", auth, json=message)
    assert status == 200 and body["messages"][0]["id"].startswith("wamid.")
    view = await sandbox_view(http, emulator, pnid)
    assert (view["code_verification_status"], view["platform_type"], view["two_step_pin_set"]) == (
        "VERIFIED",
        "CLOUD_API",
        True,
    )


async def test_adding_the_same_number_again_names_the_same_phone_number_id(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    first = await add_number(http, emulator, auth)
    # Meta's guide gives phone_number with its country code; its reference without. Both name one number.
    body = {"cc": "57", "phone_number": "573001112233", "verified_name": "Panadería Luz"}
    assert await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, data=body) == (200, {"id": first})


async def test_request_and_verify_code_take_a_json_body_as_well_as_the_query_string(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth)
    body = {"code_method": "VOICE", "language": "es"}
    assert await call(http, "POST", f"{emulator}/{V}/{pnid}/request_code", auth, json=body) == (200, {"success": True})
    code = (await sandbox_view(http, emulator, pnid))["last_code"]
    assert len(code) == 6 and code.isdigit()
    verified = await call(http, "POST", f"{emulator}/{V}/{pnid}/verify_code", auth, json={"code": code})
    assert verified == (200, {"success": True})


async def test_a_wrong_code_is_136025_in_metas_body(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth)
    params = {"code_method": "SMS", "language": "en_US"}
    await call(http, "POST", f"{emulator}/{V}/{pnid}/request_code", auth, params=params)
    code = (await sandbox_view(http, emulator, pnid))["last_code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    status, body = await call(http, "POST", f"{emulator}/{V}/{pnid}/verify_code", auth, params={"code": wrong})

    assert status == 400
    error = body["error"]
    assert error.pop("fbtrace_id")
    assert error == {
        "message": "Verify code error",
        "type": "OAuthException",
        "code": 136025,
        "error_subcode": 2388093,
        "is_transient": False,
        "error_user_title": "Could not verify code",
        "error_user_msg": "The code entered is incorrect.",
    }
    assert (await sandbox_view(http, emulator, pnid))["code_verification_status"] == "NOT_VERIFIED"


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("request_code", {"language": "en"}, "(#100) The parameter code_method is required"),
        ("request_code", {"code_method": "FAX", "language": "en"}, "(#100) Param code_method must be one of"),
        ("verify_code", {}, "(#100) The parameter code is required"),
        ("register", {"pin": "123456"}, "(#100) The parameter messaging_product is required"),
        ("register", {"messaging_product": "whatsapp", "pin": "12345"}, "(#100) Param pin must be 6 characters"),
    ],
)
async def test_missing_or_malformed_parameters_are_graphs_100(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], path: str, params: dict[str, str], message: str
) -> None:
    pnid = await add_number(http, emulator, auth)
    status, body = await call(http, "POST", f"{emulator}/{V}/{pnid}/{path}", auth, params=params)
    assert (status, body["error"]["code"], body["error"]["type"]) == (400, 100, "OAuthException")
    assert body["error"]["message"].startswith(message)


async def test_registering_before_verifying_needs_reverification_133006(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth)
    status, body = await call(http, "POST", f"{emulator}/{V}/{pnid}/register", auth, json=register_body())
    assert (status, body["error"]["code"]) == (400, 133006)
    assert body["error"]["message"] == "(#133006) Phone number re-verification needed"

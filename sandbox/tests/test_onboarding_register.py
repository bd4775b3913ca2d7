"""``POST /{phone_number_id}/register``'s refusals, each with Meta's code: PIN, rate limit, coexistence, unknown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

V = "v23.0"
WABA = "102290129340398"
StartEmulator = Callable[..., Awaitable[str]]


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def verified_number(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str]) -> str:
    body = {"cc": "44", "phone_number": "7700900123", "verified_name": "Tea Rooms"}
    _, answer = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=body)
    pnid = str(answer["id"])
    await call(http, "POST", f"{emulator}/{V}/{pnid}/request_code?code_method=SMS&language=en_GB", auth)
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        code = (await response.json())["last_code"]
    assert (await call(http, "POST", f"{emulator}/{V}/{pnid}/verify_code", auth, params={"code": code}))[0] == 200
    return pnid


async def control(http: aiohttp.ClientSession, emulator: str, pnid: str, **changes: Any) -> None:
    async with http.patch(f"{emulator}/_sandbox/phone_numbers/{pnid}", json=changes) as response:
        assert response.status == 200, await response.text()


async def register(
    http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], pnid: str, pin: str
) -> tuple[int, Any]:
    body = {"messaging_product": "whatsapp", "pin": pin}
    return await call(http, "POST", f"{emulator}/{V}/{pnid}/register", auth, json=body)


async def test_a_pin_other_than_the_numbers_two_step_pin_is_133005(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    await control(http, emulator, pnid, two_step_pin="246810")

    status, body = await register(http, emulator, auth, pnid, "123456")

    assert status == 400
    error = body["error"]
    assert error.pop("fbtrace_id")
    assert error == {
        "message": "(#133005) Two step verification PIN Mismatch",
        "type": "OAuthException",
        "code": 133005,
        "error_data": {"messaging_product": "whatsapp", "details": "The two-step verification PIN is incorrect."},
    }
    assert await register(http, emulator, auth, pnid, "246810") == (200, {"success": True})


async def test_an_already_registered_number_takes_its_pin_again_and_refuses_another(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    assert await register(http, emulator, auth, pnid, "111222") == (200, {"success": True})
    assert await register(http, emulator, auth, pnid, "111222") == (200, {"success": True})
    status, body = await register(http, emulator, auth, pnid, "999888")
    assert (status, body["error"]["code"]) == (400, 133005)


async def test_past_the_register_limit_the_number_is_blocked_with_133016(
    start_emulator: StartEmulator, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    emulator = await start_emulator(sandbox_register_limit=3)
    pnid = await verified_number(http, emulator, auth)
    await control(http, emulator, pnid, two_step_pin="246810")
    for _ in range(3):  # failed attempts count too: Meta limits requests, not successes
        assert (await register(http, emulator, auth, pnid, "000000"))[1]["error"]["code"] == 133005

    status, body = await register(http, emulator, auth, pnid, "246810")

    assert status == 400
    assert body["error"]["code"] == 133016
    assert body["error"]["message"] == "(#133016) Account register deregister rate limit exceeded"
    assert (await register(http, emulator, auth, pnid, "246810"))[1]["error"]["code"] == 133016  # still blocked


async def test_a_block_injected_by_the_sandbox_control_is_133016_until_lifted(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    await control(http, emulator, pnid, register_blocked=True)
    assert (await register(http, emulator, auth, pnid, "123456"))[1]["error"]["code"] == 133016
    await control(http, emulator, pnid, register_blocked=False)
    assert await register(http, emulator, auth, pnid, "123456") == (200, {"success": True})


async def test_a_coexistence_number_cannot_be_registered(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await verified_number(http, emulator, auth)
    await control(http, emulator, pnid, is_on_biz_app=True)

    status, body = await register(http, emulator, auth, pnid, "123456")

    assert status == 400
    assert (body["error"]["code"], body["error"]["message"]) == (
        100,
        "Register endpoint is not available for SMB businesses",
    )
    status, fields = await call(http, "GET", f"{emulator}/{V}/{pnid}?fields=is_on_biz_app,platform_type", auth)
    assert (status, fields) == (200, {"is_on_biz_app": True, "platform_type": "CLOUD_API", "id": pnid})


async def test_an_unknown_number_is_graphs_unsupported_request(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, body = await register(http, emulator, auth, "454545", "123456")
    assert status == 400
    error = body["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    assert error["message"].startswith("Unsupported post request. Object with ID '454545' does not exist")


async def test_a_wrong_token_is_190(emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    pnid = await verified_number(http, emulator, auth)
    status, body = await register(http, emulator, {"Authorization": "Bearer nope"}, pnid, "123456")
    assert (status, body["error"]["code"]) == (401, 190)

"""Injected faults and Meta's throughput and pair-rate limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

PNID = "106540352242922"
CUSTOMER = "573001112233"

StartEmulator = Callable[..., Awaitable[str]]


def text_message(to: str = CUSTOMER) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": "hola"}}


async def send(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], to: str = CUSTOMER) -> tuple[int, Any]:
    async with http.post(f"{emulator}/v23.0/{PNID}/messages", json=text_message(to), headers=auth) as response:
        return response.status, await response.json()


async def inject(http: aiohttp.ClientSession, emulator: str, **fault: Any) -> None:
    async with http.post(f"{emulator}/_sandbox/faults", json=fault) as response:
        assert response.status == 201, await response.text()


async def test_fault_fails_the_matching_send_once_then_sends_succeed(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    await inject(http, emulator, code=131047, count=1, to="+57 300 111 2233", phone_number_id=PNID)

    assert (await send(http, emulator, auth, to="5215550001"))[0] == 200  # another customer: not matched
    status, body = await send(http, emulator, auth)
    assert status == 400
    assert body["error"]["code"] == 131047
    assert body["error"]["message"] == "(#131047) Re-engagement message"
    assert "24 hours" in body["error"]["error_data"]["details"]
    assert (await send(http, emulator, auth))[0] == 200

    async with http.get(f"{emulator}/_sandbox/outbox", params={"to": CUSTOMER}) as response:
        assert len(await response.json()) == 1  # the refused send left nothing behind


async def test_fault_http_status_follows_metas_table_unless_given(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    await inject(http, emulator, code=190)
    await inject(http, emulator, code=131000)
    await inject(http, emulator, code=2)
    await inject(http, emulator, code=130429, http_status=429, error_subcode=2494055)
    await inject(http, emulator, code=131016, count=2)

    results = [await send(http, emulator, auth) for _ in range(7)]

    assert [(s, b.get("error", {}).get("code")) for s, b in results] == [
        (401, 190),
        (500, 131000),
        (503, 2),
        (429, 130429),
        (500, 131016),
        (500, 131016),
        (200, None),
    ]
    assert results[3][1]["error"]["error_subcode"] == 2494055


async def test_cleared_faults_no_longer_apply(emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    await inject(http, emulator, code=131026, count=5)
    async with http.get(f"{emulator}/_sandbox/faults") as response:
        [pending] = await response.json()
    assert (pending["code"], pending["remaining"]) == (131026, 5)
    async with http.delete(f"{emulator}/_sandbox/faults") as response:
        assert response.status == 204
    assert (await send(http, emulator, auth))[0] == 200


async def test_pair_rate_limit_trips_131056_after_the_burst(
    start_emulator: StartEmulator, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    emulator = await start_emulator(sandbox_pair_burst=3, sandbox_pair_rate_per_s=0.01)

    statuses = [(await send(http, emulator, auth))[0] for _ in range(3)]
    status, body = await send(http, emulator, auth)

    assert statuses == [200, 200, 200]
    assert (status, body["error"]["code"]) == (400, 131056)
    assert "pair rate limit" in body["error"]["message"]
    assert (await send(http, emulator, auth, to="5215550001"))[0] == 200  # other customers are unaffected


async def test_throughput_limit_trips_130429_per_number(
    start_emulator: StartEmulator, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    emulator = await start_emulator(sandbox_throughput_per_s=4)

    statuses = [(await send(http, emulator, auth, to=f"57300000000{i}"))[0] for i in range(4)]
    status, body = await send(http, emulator, auth, to="573000000009")

    assert statuses == [200] * 4
    assert (status, body["error"]["code"]) == (400, 130429)
    async with http.post(f"{emulator}/v23.0/other/messages", json=text_message(), headers=auth) as response:
        assert response.status == 200  # the limit is per phone_number_id

"""Sending through the emulator: accepted messages, the outbox, authentication and Meta's validation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

PNID = "106540352242922"
CUSTOMER = "573001112233"


def text_message(to: str = CUSTOMER, body: str = "hola") -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": body, "preview_url": False},
    }


async def post_json(http: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    async with http.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_send_is_accepted_in_metas_shape_and_kept_in_the_outbox(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    before = datetime.now(UTC)
    status, body = await post_json(http, f"{emulator}/v23.0/{PNID}/messages", text_message("+57 300 111 2233"), auth)

    assert status == 200
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+57 300 111 2233", "wa_id": CUSTOMER}]
    [message] = body["messages"]
    assert set(message) == {"id"}
    wamid = message["id"]
    assert wamid.startswith("wamid.")
    assert CUSTOMER.encode() in base64.b64decode(wamid.removeprefix("wamid."))

    async with http.get(f"{emulator}/_sandbox/outbox", params={"to": CUSTOMER, "phone_number_id": PNID}) as r:
        [entry] = await r.json()
    assert entry["wamid"] == wamid
    assert (entry["phone_number_id"], entry["to"], entry["type"], entry["text"]) == (PNID, CUSTOMER, "text", "hola")
    assert entry["request"] == text_message("+57 300 111 2233")
    assert datetime.fromisoformat(entry["received_at"]) >= before


async def test_outbox_filters_and_clears(emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    first = await post_json(http, f"{emulator}/v23.0/{PNID}/messages", text_message(body="uno"), auth)
    second = await post_json(http, f"{emulator}/v21.0/999/messages", text_message("5215550001", "dos"), auth)
    assert first[0] == second[0] == 200
    assert first[1]["messages"][0]["id"] != second[1]["messages"][0]["id"]

    async def outbox(**params: str) -> list[str]:
        async with http.get(f"{emulator}/_sandbox/outbox", params=params) as response:
            return [e["text"] for e in await response.json()]

    assert await outbox() == ["uno", "dos"]
    assert await outbox(phone_number_id="999") == ["dos"]
    assert await outbox(to="+52 1555 0001") == ["dos"]
    assert await outbox(since=(datetime.now(UTC) + timedelta(seconds=5)).isoformat()) == []
    assert await outbox(since=(datetime.now(UTC) - timedelta(minutes=1)).isoformat()) == ["uno", "dos"]
    async with http.delete(f"{emulator}/_sandbox/outbox") as response:
        assert response.status == 204
    assert await outbox() == []


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer wrong"}, {}, {"Authorization": "Basic x"}])
async def test_bad_token_is_401_code_190(emulator: str, http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    status, body = await post_json(http, f"{emulator}/v23.0/{PNID}/messages", text_message(), headers)

    assert status == 401
    error = body["error"]
    assert (error["code"], error["type"]) == (190, "OAuthException")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    async with http.get(f"{emulator}/_sandbox/outbox") as response:
        assert await response.json() == []


def without(key: str, **changes: Any) -> dict[str, Any]:
    body = {**text_message(), **changes}
    body.pop(key, None)
    return body


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (without("messaging_product"), 100, "messaging_product"),
        ({**text_message(), "messaging_product": "sms"}, 100, "messaging_product"),
        (without("to"), 131008, "to"),
        ({**text_message(), "to": "not a number"}, 100, "to"),
        ({**text_message(), "text": {"preview_url": False}}, 131008, "text['body']"),
        ({**text_message(), "text": {"body": "  "}}, 100, "text['body']"),
        (text_message(body="x" * 4097), 100, "4096"),
        ({**without("text"), "type": "template", "template": {"name": "hello_world"}}, 131008, "language"),
        ({**without("text"), "type": "hologram", "hologram": {}}, 100, "type"),
        (["not", "an", "object"], 100, "JSON object"),
    ],
)
async def test_invalid_body_is_400_in_metas_error_shape(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], body: Any, code: int, detail: str
) -> None:
    status, answer = await post_json(http, f"{emulator}/v23.0/{PNID}/messages", body, auth)

    assert status == 400
    error = answer["error"]
    assert set(error) == {"message", "type", "code", "error_data", "fbtrace_id"}
    assert (error["code"], error["type"]) == (code, "OAuthException")
    assert error["message"].startswith(f"(#{code}) ")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert detail in error["error_data"]["details"]


async def test_unparsable_json_is_code_100(emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    async with http.post(f"{emulator}/v23.0/{PNID}/messages", data=b"{nope", headers=auth) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == 100


async def test_longest_text_and_missing_type_are_accepted(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    assert (await post_json(http, f"{emulator}/v23.0/{PNID}/messages", text_message(body="y" * 4096), auth))[0] == 200
    # Meta treats a missing type as text.
    assert (await post_json(http, f"{emulator}/v23.0/{PNID}/messages", without("type"), auth))[0] == 200


async def test_template_send_and_mark_as_read(emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]) -> None:
    template = {
        "messaging_product": "whatsapp",
        "to": CUSTOMER,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    status, body = await post_json(http, f"{emulator}/v23.0/{PNID}/messages", template, auth)
    assert status == 200
    assert body["messages"][0]["message_status"] == "accepted"

    read = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.ABC",
        "typing_indicator": {"type": "text"},
    }
    assert await post_json(http, f"{emulator}/v23.0/{PNID}/messages", read, auth) == (200, {"success": True})

    async with http.get(f"{emulator}/_sandbox/outbox") as response:
        [entry] = await response.json()
    assert (entry["type"], entry["text"], entry["request"]["template"]["name"]) == ("template", None, "hello_world")
    async with http.get(f"{emulator}/_sandbox/reads", params={"phone_number_id": PNID}) as response:
        [mark] = await response.json()
    assert (mark["message_id"], mark["typing_indicator"]) == ("wamid.ABC", True)


async def test_unknown_path_version_is_not_served(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    async with http.post(f"{emulator}/latest/{PNID}/messages", json=text_message(), headers=auth) as response:
        assert response.status == 404

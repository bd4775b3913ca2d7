"""``POST /{phone_number_id}/smb_app_data``: a coexistence number asks once for its contacts and once for its
history; Meta's data then arrives as signed ``smb_app_state_sync`` and ``history`` webhooks for the number's WABA."""

from __future__ import annotations

from typing import Any

import aiohttp

from sandbox.testing import WebhookReceiver, signature_ok

V = "v23.0"
WABA = "102290129340398"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def added_number(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], *, coexistence: bool) -> str:
    body = {"cc": "57", "phone_number": "3014445566", "verified_name": "Tienda Mar"}
    _, answer = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=body)
    pnid = str(answer["id"])
    if coexistence:  # as the signup page leaves a number onboarded from the WhatsApp Business app
        async with http.patch(f"{emulator}/_sandbox/phone_numbers/{pnid}", json={"is_on_biz_app": True}) as response:
            assert response.status == 200, await response.text()
    return pnid


async def sync(
    http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], pnid: str, sync_type: str
) -> tuple[int, Any]:
    body = {"messaging_product": "whatsapp", "sync_type": sync_type}
    return await call(http, "POST", f"{emulator}/{V}/{pnid}/smb_app_data", auth, json=body)


async def syncs(http: aiohttp.ClientSession, emulator: str, pnid: str) -> list[str]:
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        return list((await response.json())["syncs"])


async def test_each_sync_is_answered_with_a_request_id_then_sent_as_a_signed_webhook_of_its_field(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], gateway: WebhookReceiver, app_secret: str
) -> None:
    pnid = await added_number(http, emulator, auth, coexistence=True)

    answers = [await sync(http, emulator, auth, pnid, kind) for kind in ("smb_app_state_sync", "history")]

    assert [status for status, _ in answers] == [200, 200]
    assert all(set(body) == {"messaging_product", "request_id"} for _, body in answers)
    assert answers[0][1]["request_id"] != answers[1][1]["request_id"]
    assert await syncs(http, emulator, pnid) == ["smb_app_state_sync", "history"]
    deliveries = [await gateway.next(), await gateway.next()]
    assert all(signature_ok(app_secret, d.body, d.signature) for d in deliveries)
    changes: dict[str, Any] = {}
    for delivery in deliveries:
        payload = delivery.json()
        assert payload["object"] == "whatsapp_business_account"
        [entry] = payload["entry"]
        [change] = entry["changes"]
        assert entry["id"] == WABA
        assert change["value"]["metadata"] == {"display_phone_number": "573014445566", "phone_number_id": pnid}
        changes[change["field"]] = change["value"]

    [contact] = changes["smb_app_state_sync"]["state_sync"]
    assert (contact["type"], contact["action"]) == ("contact", "add")
    assert set(contact["contact"]) == {"full_name", "first_name", "phone_number"}
    assert contact["metadata"]["timestamp"].isdigit()
    [chunk] = changes["history"]["history"]
    assert chunk["metadata"] == {"phase": 0, "chunk_order": 1, "progress": 100}
    [thread] = chunk["threads"]
    [message] = thread["messages"]
    assert thread["id"] == message["from"] == contact["contact"]["phone_number"]  # the thread is the customer's
    assert message["id"].startswith("wamid.") and message["type"] == "text" and message["text"]["body"]
    assert message["history_context"] == {"status": "READ"}


async def test_a_sync_type_requested_twice_is_refused_with_100_already_requested_and_nothing_is_sent_again(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], gateway: WebhookReceiver
) -> None:
    pnid = await added_number(http, emulator, auth, coexistence=True)
    assert (await sync(http, emulator, auth, pnid, "history"))[0] == 200
    first = (await gateway.next()).json()

    status, body = await sync(http, emulator, auth, pnid, "history")

    assert first["entry"][0]["changes"][0]["field"] == "history"
    assert (status, body["error"]["code"], body["error"]["type"]) == (400, 100, "OAuthException")
    assert "already requested" in body["error"]["message"]
    assert await syncs(http, emulator, pnid) == ["history"]
    assert (await sync(http, emulator, auth, pnid, "smb_app_state_sync"))[0] == 200  # the other type is its own
    assert (await gateway.next()).json()["entry"][0]["changes"][0]["field"] == "smb_app_state_sync"
    assert gateway.deliveries.empty()  # the refused repeat sent no second history


async def test_a_number_not_on_the_business_app_is_refused_with_100_and_records_no_sync(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await added_number(http, emulator, auth, coexistence=False)

    status, body = await sync(http, emulator, auth, pnid, "smb_app_state_sync")

    assert (status, body["error"]["code"]) == (400, 100)
    assert "WhatsApp Business app" in body["error"]["message"] and "already" not in body["error"]["message"]
    assert await syncs(http, emulator, pnid) == []


async def test_a_wrong_sync_type_product_or_token_is_refused_as_meta_does(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await added_number(http, emulator, auth, coexistence=True)
    url = f"{emulator}/{V}/{pnid}/smb_app_data"

    wrong_type = await call(http, "POST", url, auth, json={"messaging_product": "whatsapp", "sync_type": "contacts"})
    wrong_product = await call(http, "POST", url, auth, json={"messaging_product": "sms", "sync_type": "history"})
    missing = await call(http, "POST", url, auth, json={"messaging_product": "whatsapp"})
    unknown_token = await call(http, "POST", url, {"Authorization": "Bearer EAA-nope"}, json={})

    assert wrong_type[0] == 400 and "sync_type must be one of" in wrong_type[1]["error"]["message"]
    assert wrong_product[0] == 400 and "messaging_product" in wrong_product[1]["error"]["message"]
    assert missing[0] == 400 and "sync_type" in missing[1]["error"]["message"]
    assert (unknown_token[0], unknown_token[1]["error"]["code"]) == (401, 190)
    assert await syncs(http, emulator, pnid) == []

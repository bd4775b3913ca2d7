"""Reading numbers and WABAs back: ``GET /{phone_number_id}`` (fields honoured), ``GET /{waba_id}/phone_numbers``."""

from __future__ import annotations

from typing import Any

import aiohttp

V = "v23.0"
WABA = "102290129340398"


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def add_number(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], national: str) -> str:
    body = {"cc": "1", "phone_number": national, "verified_name": "Lucky Shrub"}
    status, answer = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=body)
    assert status == 200
    return str(answer["id"])


async def test_a_new_number_reads_back_unverified_and_not_on_the_cloud_api(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth, "4195551518")

    status, number = await call(http, "GET", f"{emulator}/{V}/{pnid}", auth)

    assert status == 200
    assert number == {
        "verified_name": "Lucky Shrub",
        "code_verification_status": "NOT_VERIFIED",
        "display_phone_number": "+1 419-555-1518",
        "quality_rating": "GREEN",
        "platform_type": "NOT_APPLICABLE",
        "throughput": {"level": "NOT_APPLICABLE"},
        "id": pnid,
    }


async def test_fields_select_what_is_answered_and_the_id_always_comes(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth, "4195551519")
    url = f"{emulator}/{V}/{pnid}"
    fields = "name_status,verified_name,status,throughput,is_on_biz_app,account_mode,webhook_configuration"

    status, number = await call(http, "GET", url, auth, params={"fields": fields})

    assert status == 200
    assert list(number) == [*fields.split(","), "id"]
    assert number["name_status"] == "APPROVED"
    assert (number["status"], number["is_on_biz_app"], number["account_mode"]) == ("PENDING", False, "LIVE")
    assert set(number["webhook_configuration"]) == {"application"}


async def test_an_unknown_field_is_graphs_nonexisting_field_error(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    pnid = await add_number(http, emulator, auth, "4195551520")
    status, body = await call(http, "GET", f"{emulator}/{V}/{pnid}", auth, params={"fields": "id,colour"})
    assert (status, body["error"]["code"]) == (400, 100)
    assert body["error"]["message"] == (
        "(#100) Tried accessing nonexisting field (colour) on node type (WhatsAppBusinessPhoneNumber)"
    )


async def test_a_wabas_numbers_are_listed_with_data_and_paging(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    first = await add_number(http, emulator, auth, "4195551521")
    second = await add_number(http, emulator, auth, "4195551522")

    status, listing = await call(http, "GET", f"{emulator}/{V}/{WABA}/phone_numbers", auth)

    assert status == 200
    assert [n["id"] for n in listing["data"]] == [first, second]
    assert set(listing["data"][0]) == {
        "verified_name",
        "code_verification_status",
        "display_phone_number",
        "quality_rating",
        "platform_type",
        "throughput",
        "webhook_configuration",
        "id",
    }
    assert set(listing["paging"]["cursors"]) == {"before", "after"}
    status, narrow = await call(http, "GET", f"{emulator}/{V}/{WABA}/phone_numbers?fields=id", auth)
    assert narrow["data"] == [{"id": first}, {"id": second}]


async def test_the_waba_reads_back_with_its_owner(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    await add_number(http, emulator, auth, "4195551523")
    status, waba = await call(
        http, "GET", f"{emulator}/{V}/{WABA}", auth, params={"fields": "id,name,owner_business_info"}
    )
    assert status == 200
    assert waba["id"] == WABA and set(waba["owner_business_info"]) == {"name", "id"}


async def test_a_number_registered_through_the_sandbox_control_reads_as_a_live_cloud_api_number(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    demo = {"phone_number_id": "106540352242922", "display_phone_number": "15550001111", "waba_id": "998877665544332"}
    async with http.post(f"{emulator}/_sandbox/numbers", json=demo) as response:
        assert response.status == 201

    status, number = await call(http, "GET", f"{emulator}/{V}/106540352242922", auth)
    assert status == 200
    assert (number["platform_type"], number["code_verification_status"]) == ("CLOUD_API", "VERIFIED")
    assert number["display_phone_number"] == "+1 555-000-1111"
    status, listing = await call(http, "GET", f"{emulator}/{V}/998877665544332/phone_numbers", auth)
    assert [n["id"] for n in listing["data"]] == ["106540352242922"]


async def test_any_other_id_is_still_a_media_object(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    status, body = await call(http, "GET", f"{emulator}/{V}/123456789012345", auth)
    assert (status, body["error"]["code"], body["error"]["error_subcode"]) == (400, 100, 33)


async def test_a_number_cannot_be_added_twice_to_two_wabas(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    await add_number(http, emulator, auth, "4195551524")
    body = {"cc": "1", "phone_number": "4195551524", "verified_name": "Other"}
    status, answer = await call(http, "POST", f"{emulator}/{V}/777666555444333/phone_numbers", auth, json=body)
    assert (status, answer["error"]["code"]) == (400, 100)


async def test_a_number_that_is_no_phone_number_is_refused(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    body = {"cc": "1", "phone_number": "12", "verified_name": "Tiny"}
    status, answer = await call(http, "POST", f"{emulator}/{V}/{WABA}/phone_numbers", auth, json=body)
    assert (status, answer["error"]["code"]) == (400, 100)

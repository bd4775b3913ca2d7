"""Media through the emulator, in Meta's protocol: upload, retrieve the URL, download with the token, delete."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from sandbox.meta import emulator as graph_emulator
from sandbox.meta.emulator_state import EMULATOR
from sandbox.meta.media_store import MB
from sandbox.testing import serve_app

PNID = "106540352242922"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

StartEmulator = Callable[..., Awaitable[str]]


def upload_form(
    data: bytes = PNG,
    mime_type: str | None = "image/png",
    *,
    product: str | None = "whatsapp",
    as_type_field: bool = True,
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if product is not None:
        form.add_field("messaging_product", product)
    if mime_type is not None and as_type_field:
        form.add_field("type", mime_type)
    form.add_field("file", data, filename="photo.png", content_type=mime_type or "application/octet-stream")
    return form


async def call(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, headers=headers, **kwargs) as response:
        return response.status, await response.json()


async def upload(http: aiohttp.ClientSession, emulator: str, auth: dict[str, str], **form: Any) -> str:
    status, body = await call(http, "POST", f"{emulator}/v23.0/{PNID}/media", auth, data=upload_form(**form))
    assert status == 200, body
    assert set(body) == {"id"} and body["id"].isdigit()
    return str(body["id"])


async def test_upload_retrieve_download_and_delete_in_metas_shapes(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    media_id = await upload(http, emulator, auth)

    status, info = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
    assert status == 200
    assert list(info) == ["messaging_product", "url", "mime_type", "sha256", "file_size", "id"]
    assert (info["messaging_product"], info["mime_type"], info["id"]) == ("whatsapp", "image/png", media_id)
    assert info["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert info["file_size"] == str(len(PNG))
    url = urlsplit(info["url"])
    assert f"{url.scheme}://{url.netloc}" == emulator and url.path == "/whatsapp_business/attachments/"
    assert set(parse_qs(url.query)) == {"mid", "ext", "hash"}

    async with http.get(info["url"], headers=auth) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == PNG

    assert await call(http, "DELETE", f"{emulator}/v23.0/{media_id}", auth) == (200, {"success": True})
    async with http.get(info["url"], headers=auth) as response:
        assert response.status == 404
    status, body = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
    assert status == 400
    assert set(body["error"]) == {"message", "type", "code", "error_subcode", "fbtrace_id"}
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    assert body["error"]["type"] == "GraphMethodException"
    assert body["error"]["message"].startswith(f"Unsupported get request. Object with ID '{media_id}' does not exist")


async def test_the_type_may_come_on_the_file_part_alone(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    media_id = await upload(http, emulator, auth, data=b"%PDF-1.4", mime_type="application/pdf", as_type_field=False)
    status, info = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
    assert (status, info["mime_type"]) == (200, "application/pdf")


async def test_media_belongs_to_the_number_it_was_uploaded_on(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    media_id = await upload(http, emulator, auth)
    url = f"{emulator}/v23.0/{media_id}"
    assert (await call(http, "GET", url, auth, params={"phone_number_id": PNID}))[0] == 200
    status, body = await call(http, "GET", url, auth, params={"phone_number_id": "999"})
    assert (status, body["error"]["code"]) == (400, 100)
    status, body = await call(http, "DELETE", url, auth, params={"phone_number_id": "999"})
    assert (status, body["error"]["code"]) == (400, 100)
    assert (await call(http, "GET", url, auth))[0] == 200


@pytest.mark.parametrize(
    ("form", "code", "detail"),
    [
        ({"product": None}, 100, "messaging_product is required"),
        ({"product": "sms"}, 100, "messaging_product"),
        ({"mime_type": "image/gif"}, 100, "Received file of type 'image/gif'"),
        ({"data": b"x" * (5 * MB + 1)}, 131053, "image media may be at most 5242880 bytes"),
        ({"data": b"x" * (500 * 1024 + 1), "mime_type": "image/webp"}, 131053, "sticker media"),
    ],
)
async def test_bad_uploads_fail_like_meta(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], form: dict[str, Any], code: int, detail: str
) -> None:
    status, body = await call(http, "POST", f"{emulator}/v23.0/{PNID}/media", auth, data=upload_form(**form))
    assert status == 400
    assert body["error"]["code"] == code
    assert detail in body["error"]["error_data"]["details"]


async def test_upload_without_a_file_or_a_form(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    form = aiohttp.FormData({"messaging_product": "whatsapp", "type": "image/png"})
    form.add_field("note", b"no file here", filename="n.txt")  # forces multipart
    status, body = await call(http, "POST", f"{emulator}/v23.0/{PNID}/media", auth, data=form)
    assert (status, body["error"]["error_data"]["details"]) == (400, "The parameter file is required.")
    status, body = await call(http, "POST", f"{emulator}/v23.0/{PNID}/media", auth, json={"file": "x"})
    assert (status, body["error"]["code"]) == (400, 100)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
async def test_every_media_call_and_the_download_need_the_token(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str], headers: dict[str, str]
) -> None:
    media_id = await upload(http, emulator, auth)
    _, info = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)

    for method, url, kwargs in [
        ("POST", f"{emulator}/v23.0/{PNID}/media", {"data": upload_form()}),
        ("GET", f"{emulator}/v23.0/{media_id}", {}),
        ("DELETE", f"{emulator}/v23.0/{media_id}", {}),
        ("GET", info["url"], {}),
    ]:
        status, body = await call(http, method, url, headers, **kwargs)
        assert (status, body["error"]["code"]) == (401, 190), url
    assert (await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth))[0] == 200


async def test_download_urls_expire_and_cannot_be_altered(
    make_settings: Callable[..., Any], http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    app = graph_emulator.create_app(make_settings())
    emulator, server = await serve_app(app)
    try:
        media_id = await upload(http, emulator, auth)
        _, info = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
        ext = int(parse_qs(urlsplit(info["url"]).query)["ext"][0])
        assert 299 <= ext - time.time() <= 300

        async with http.get(info["url"].replace("ext=", "ext=9"), headers=auth) as response:
            assert response.status == 404  # a stretched expiry breaks the signature
        async with http.get(info["url"], headers=auth) as response:
            assert response.status == 200

        app[EMULATOR].media_urls.clock = lambda: time.time() + 301
        async with http.get(info["url"], headers=auth) as response:
            assert response.status == 404
        _, fresh = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
        async with http.get(fresh["url"], headers=auth) as response:
            assert (response.status, await response.read()) == (200, PNG)
    finally:
        await server.close()


async def test_url_lifetime_is_configurable(
    start_emulator: StartEmulator, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    emulator = await start_emulator(sandbox_media_url_ttl_s=0)
    media_id = await upload(http, emulator, auth)
    _, info = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
    async with http.get(info["url"], headers=auth) as response:
        assert response.status == 404


async def test_the_store_forgets_the_oldest_media_past_its_bound(
    start_emulator: StartEmulator, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    emulator = await start_emulator(sandbox_media_store_bytes=1500)
    first = await upload(http, emulator, auth, data=b"a" * 600)
    second = await upload(http, emulator, auth, data=b"b" * 600)
    third = await upload(http, emulator, auth, data=b"c" * 600)

    assert (await call(http, "GET", f"{emulator}/v23.0/{first}", auth))[0] == 400
    assert (await call(http, "GET", f"{emulator}/v23.0/{second}", auth))[0] == 200
    assert (await call(http, "GET", f"{emulator}/v23.0/{third}", auth))[0] == 200
    status, body = await call(http, "POST", f"{emulator}/v23.0/{PNID}/media", auth, data=upload_form(b"d" * 1501))
    assert (status, body["error"]["code"]) == (400, 131053)


async def test_media_corrupt_fault_spoils_the_next_download_only(
    emulator: str, http: aiohttp.ClientSession, auth: dict[str, str]
) -> None:
    media_id = await upload(http, emulator, auth)
    async with http.post(f"{emulator}/_sandbox/faults", json={"media_corrupt": True, "phone_number_id": PNID}) as r:
        assert r.status == 201
        assert (await r.json())["media_corrupt"] is True

    downloads = []
    for _ in range(2):
        _, info = await call(http, "GET", f"{emulator}/v23.0/{media_id}", auth)
        async with http.get(info["url"], headers=auth) as response:
            downloads.append(await response.read())
    assert len(downloads[0]) == len(PNG) and downloads[0] != PNG
    assert downloads[1] == PNG


@pytest.mark.parametrize(
    "fault", [{}, {"code": 131026, "media_corrupt": True}, {"media_corrupt": True, "to": "573001112233"}]
)
async def test_a_fault_is_either_a_send_error_or_a_corrupt_download(
    emulator: str, http: aiohttp.ClientSession, fault: dict[str, Any]
) -> None:
    async with http.post(f"{emulator}/_sandbox/faults", json=fault) as response:
        assert response.status == 400

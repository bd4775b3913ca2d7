"""The Graph client's media calls against the sandbox's Meta emulator, over real HTTP on a free port."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from sandbox.config import SandboxSettings
from sandbox.meta import emulator as graph_emulator
from sandbox.testing import WebhookReceiver, serve_app, signature_ok
from shared.graph.client import GraphClient, graph_client
from shared.graph.errors import GraphError, InvalidRequest, TokenInvalid
from shared.graph.media import MediaChecksumMismatch, MediaInfo, MediaTooLarge, MediaUrlExpired
from shared.settings import GraphSettings

APP_SECRET = "media-app-secret"
TOKEN = "media-graph-token"
PNID = "106540352242922"
CUSTOMER = "573001112233"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64

Emulator = Callable[..., Awaitable[str]]
Client = Callable[..., Awaitable[GraphClient]]


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


@pytest.fixture
async def gateway(stack: AsyncExitStack) -> WebhookReceiver:
    receiver = WebhookReceiver()
    url, server = await serve_app(receiver.app())
    stack.push_async_callback(server.close)
    receiver.url = url + "/webhook/whatsapp"
    return receiver


@pytest.fixture
def start_emulator(stack: AsyncExitStack, gateway: WebhookReceiver) -> Emulator:
    async def start(**overrides: Any) -> str:
        config = SandboxSettings(app_secret=APP_SECRET, graph_token=TOKEN, sandbox_webhook_url=gateway.url, **overrides)
        url, server = await serve_app(graph_emulator.create_app(config))
        stack.push_async_callback(server.close)
        return url

    return start


@pytest.fixture
def client(stack: AsyncExitStack) -> Client:
    async def open_client(graph_url: str, token: str = TOKEN) -> GraphClient:
        settings = GraphSettings(graph_base_url=graph_url, graph_token=SecretStr(token))
        return await stack.enter_async_context(graph_client(settings))

    return open_client


@pytest.fixture
async def emulator(start_emulator: Emulator) -> str:
    return await start_emulator()


@pytest.fixture
async def graph(emulator: str, client: Client) -> GraphClient:
    return await client(emulator)


async def test_upload_then_info_then_download_round_trips_bytes_and_sha256(graph: GraphClient) -> None:
    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")

    info = await graph.media_info(media_id)
    media = await graph.download_media(media_id)

    assert (info.id, info.mime_type, info.file_size) == (media_id, "image/jpeg", len(JPEG))
    assert info.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert media.data == JPEG
    assert (media.id, media.mime_type, media.sha256, media.file_size) == (
        media_id,
        "image/jpeg",
        info.sha256,
        len(JPEG),
    )
    assert "mid=" not in repr(info) and "data=" not in repr(media)  # signed URL and bytes stay out of logs


async def test_media_info_checks_the_owning_number(graph: GraphClient) -> None:
    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")
    assert (await graph.media_info(media_id, phone_number_id=PNID)).id == media_id
    with pytest.raises(InvalidRequest):
        await graph.media_info(media_id, phone_number_id="999")


async def test_expired_url_is_a_retryable_error_that_names_no_secret(start_emulator: Emulator, client: Client) -> None:
    graph = await client(await start_emulator(sandbox_media_url_ttl_s=0))
    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")

    with pytest.raises(MediaUrlExpired) as failure:
        await graph.download_media(media_id)

    error = failure.value
    assert error.retryable and error.http_status == 404
    assert "expired" in str(error) and "/whatsapp_business/attachments/" in str(error)
    assert "hash=" not in str(error) and "mid=" not in str(error) and TOKEN not in str(error)


async def test_wrong_token_is_token_invalid_for_the_api_and_for_the_download(
    start_emulator: Emulator, client: Client
) -> None:
    emulator = await start_emulator()
    graph, intruder = await client(emulator), await client(emulator, token="stolen")
    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")
    info = await graph.media_info(media_id)

    with pytest.raises(TokenInvalid) as api_failure:
        await intruder.media_info(media_id)
    with pytest.raises(TokenInvalid) as download_failure:
        await intruder.download(info)

    assert (api_failure.value.code, api_failure.value.http_status) == (190, 401)
    assert download_failure.value.http_status == 401
    with pytest.raises(TokenInvalid):
        await intruder.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")


async def test_unknown_or_deleted_media_is_an_invalid_request(graph: GraphClient) -> None:
    with pytest.raises(InvalidRequest) as failure:
        await graph.media_info("1234567890123456")
    assert (failure.value.code, failure.value.subcode, failure.value.retryable) == (100, 33, False)

    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")
    await graph.delete_media(media_id)
    with pytest.raises(InvalidRequest):
        await graph.download_media(media_id)
    with pytest.raises(InvalidRequest):
        await graph.media_info("../v23.0/106540352242922/messages")  # refused before any request


async def test_oversize_upload_is_refused_by_meta(graph: GraphClient) -> None:
    with pytest.raises(GraphError) as failure:
        await graph.upload_media(PNID, b"x" * (5 * 1024 * 1024 + 1), "image/jpeg", "huge.jpg")
    assert (failure.value.code, failure.value.http_status, failure.value.retryable) == (131053, 400, False)
    with pytest.raises(InvalidRequest):
        await graph.upload_media(PNID, b"GIF89a", "image/gif", "anim.gif")


async def test_download_stops_at_max_bytes_even_when_meta_understates_the_size(graph: GraphClient) -> None:
    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")

    with pytest.raises(MediaTooLarge):
        await graph.download_media(media_id, max_bytes=len(JPEG) - 1)
    understated = (await graph.media_info(media_id)).model_copy(update={"file_size": 10})
    with pytest.raises(MediaTooLarge):
        await graph.download(understated, max_bytes=100)
    assert (await graph.download_media(media_id, max_bytes=len(JPEG))).data == JPEG


async def test_sha256_mismatch_is_detected(graph: GraphClient, emulator: str) -> None:
    media_id = await graph.upload_media(PNID, JPEG, "image/jpeg", "photo.jpg")
    fault = {"media_corrupt": True, "phone_number_id": PNID}
    async with aiohttp.ClientSession() as http, http.post(f"{emulator}/_sandbox/faults", json=fault) as response:
        assert response.status == 201

    with pytest.raises(MediaChecksumMismatch) as failure:
        await graph.download_media(media_id)

    assert failure.value.retryable
    assert hashlib.sha256(JPEG).hexdigest() in str(failure.value)
    assert (await graph.download_media(media_id)).data == JPEG  # the fault was for one download


async def test_an_http_media_url_is_refused_when_the_api_is_https(client: Client) -> None:
    graph = await client("https://graph.example.invalid")
    url = "http://cdn.example.invalid/a?mid=1&hash=x"
    info = MediaInfo(id="1", url=url, mime_type="image/jpeg", sha256="0", file_size=1)
    with pytest.raises(GraphError, match="not https"):
        await graph.download(info)


async def test_a_customers_image_webhook_names_media_that_downloads_to_the_same_bytes(
    graph: GraphClient, emulator: str, gateway: WebhookReceiver
) -> None:
    message = {
        "phone_number_id": PNID,
        "from": CUSTOMER,
        "media": {
            "type": "image",
            "mime_type": "image/jpeg",
            "data_base64": base64.b64encode(JPEG).decode(),
            "caption": "foto del daño",
        },
    }
    async with aiohttp.ClientSession() as http, http.post(f"{emulator}/_sandbox/customer_message", json=message) as r:
        assert (r.status, (await r.json())["gateway_status"]) == (200, 200)

    delivery = await gateway.next()
    assert signature_ok(APP_SECRET, delivery.body, delivery.signature)
    [inbound] = delivery.json()["entry"][0]["changes"][0]["value"]["messages"]
    image = inbound["image"]

    media = await graph.download_media(image["id"], phone_number_id=PNID)

    assert media.data == JPEG and media.mime_type == image["mime_type"] == "image/jpeg"
    assert base64.b64decode(image["sha256"]) == bytes.fromhex(media.sha256)
    assert image["caption"] == "foto del daño"

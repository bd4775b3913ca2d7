"""A played customer sends media: the webhook names a media id the business downloads like Meta's."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import aiohttp
import pytest

from sandbox.meta.media_store import MB
from sandbox.testing import WebhookReceiver, signature_ok

PNID = "106540352242922"
CUSTOMER = "573001112233"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100
PDF = b"%PDF-1.4 menu"


def media_message(**media: Any) -> dict[str, Any]:
    return {"phone_number_id": PNID, "from": CUSTOMER, "name": "Ana", "media": media}


def image(data: bytes = JPEG, **extra: Any) -> dict[str, Any]:
    return {"type": "image", "mime_type": "image/jpeg", "data_base64": base64.b64encode(data).decode(), **extra}


async def test_customer_image_arrives_as_metas_image_webhook_and_downloads(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession, auth: dict[str, str], app_secret: str
) -> None:
    async with http.post(f"{emulator}/_sandbox/customer_message", json=media_message(**image(caption="¿Y este?"))) as r:
        assert r.status == 200
        answer = await r.json()

    delivery = await gateway.next()

    assert answer["gateway_status"] == 200
    assert signature_ok(app_secret, delivery.body, delivery.signature)
    [message] = delivery.json()["entry"][0]["changes"][0]["value"]["messages"]
    assert (message["from"], message["id"], message["type"]) == (CUSTOMER, answer["wamid"], "image")
    assert "text" not in message
    assert message["image"] == {
        "caption": "¿Y este?",
        "mime_type": "image/jpeg",
        "sha256": base64.b64encode(hashlib.sha256(JPEG).digest()).decode(),  # webhooks: base64, not hex
        "id": answer["media_id"],
    }
    async with http.get(f"{emulator}/v23.0/{answer['media_id']}", headers=auth) as r:
        info = await r.json()
    assert info["sha256"] == hashlib.sha256(JPEG).hexdigest()
    async with http.get(info["url"], headers=auth) as r:
        assert await r.read() == JPEG


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        (
            {"type": "document", "mime_type": "application/pdf", "filename": "menu.pdf", "caption": "la carta"},
            {"caption": "la carta", "filename": "menu.pdf", "mime_type": "application/pdf"},
        ),
        ({"type": "audio", "mime_type": "audio/ogg; codecs=opus"}, {"mime_type": "audio/ogg; codecs=opus"}),
        ({"type": "sticker", "mime_type": "image/webp"}, {"mime_type": "image/webp"}),
        ({"type": "video", "mime_type": "video/mp4"}, {"mime_type": "video/mp4"}),
    ],
)
async def test_each_media_type_has_its_own_object(
    emulator: str,
    gateway: WebhookReceiver,
    http: aiohttp.ClientSession,
    auth: dict[str, str],
    media: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    body = media_message(**media, data_base64=base64.b64encode(PDF).decode())
    async with http.post(f"{emulator}/_sandbox/customer_message", json=body) as r:
        answer = await r.json()

    [message] = (await gateway.next()).json()["entry"][0]["changes"][0]["value"]["messages"]
    kind = media["type"]
    assert message["type"] == kind
    assert message[kind] == {
        **expected,
        "sha256": base64.b64encode(hashlib.sha256(PDF).digest()).decode(),
        "id": answer["media_id"],
    }
    if kind == "document":
        async with http.get(f"{emulator}/v23.0/{answer['media_id']}", headers=auth) as r:
            url = (await r.json())["url"]
        async with http.get(url, headers=auth) as r:
            assert 'filename="menu.pdf"' in r.headers["Content-Disposition"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"phone_number_id": PNID, "from": CUSTOMER}, "either text or media"),
        ({**media_message(**image()), "text": "hola"}, "either text or media"),
        (media_message(**{**image(), "data_base64": "not base64!"}), "base64"),
        (media_message(**image(b"x" * (5 * MB + 1))), "at most 5242880 bytes"),
        (media_message(**{**image(), "type": "audio", "caption": "oye"}), "no caption"),
        (media_message(**image(filename="a.jpg")), "only documents"),
        (media_message(**{**image(), "type": "gif"}), "media.type"),
    ],
)
async def test_malformed_customer_media_is_refused(
    emulator: str, gateway: WebhookReceiver, http: aiohttp.ClientSession, body: dict[str, Any], detail: str
) -> None:
    async with http.post(f"{emulator}/_sandbox/customer_message", json=body) as r:
        assert r.status == 400
        assert detail in (await r.json())["error"]
    assert gateway.deliveries.empty()

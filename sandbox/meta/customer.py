"""``POST /_sandbox/customer_message``: the emulator plays a customer writing to a business number.

The customer sends either ``text`` or ``media`` ({type, mime_type, data_base64, caption?, filename?}); media
is kept like an upload, so the business downloads it by the id in the webhook, as from Meta.
The webhook is delivered once, synchronously, so the caller learns the gateway's verdict at once.
Meta's at-least-once redelivery is played by sending again with the same ``wamid``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.admin_io import bad_request, read_model
from sandbox.meta.emulator_state import EMULATOR, Emulator
from sandbox.meta.errors import MetaError
from sandbox.meta.ids import new_media_id, new_wamid
from sandbox.meta.media_store import SIZE_LIMITS, MediaObject, MediaTooLargeForStore
from sandbox.meta.state import iso
from sandbox.meta.validation import wa_id_of
from sandbox.meta.webhooks import inbound_payload

# Meta's inbound media objects: captions on images, videos and documents; file names on documents only.
_CAPTIONED = {"image", "video", "document"}


class CustomerMedia(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["image", "audio", "video", "document", "sticker"]
    mime_type: str = Field(min_length=1)
    data_base64: str = Field(min_length=1)
    caption: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _fields_of_the_type(self) -> CustomerMedia:
        if self.caption is not None and self.type not in _CAPTIONED:
            raise ValueError(f"{self.type} messages have no caption")
        if self.filename is not None and self.type != "document":
            raise ValueError("only documents have a filename")
        return self


class CustomerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    phone_number_id: str = Field(min_length=1)
    display_phone_number: str | None = None
    from_: str = Field(alias="from", min_length=1)
    name: str = "Customer"
    text: str | None = Field(default=None, min_length=1)
    media: CustomerMedia | None = None
    wamid: str | None = None

    @model_validator(mode="after")
    def _text_or_media(self) -> CustomerMessage:
        if (self.text is None) == (self.media is None):
            raise ValueError("give either text or media")
        return self


def store_media(emulator: Emulator, phone_number_id: str, media: CustomerMedia) -> MediaObject:
    try:
        data = base64.b64decode(media.data_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("media.data_base64 is not valid base64") from exc
    limit = SIZE_LIMITS[media.type]
    if len(data) > limit:
        raise bad_request(f"WhatsApp carries {media.type} media of at most {limit} bytes; this one has {len(data)}")
    stored = MediaObject(new_media_id(), phone_number_id, media.type, media.mime_type, data, media.filename)
    try:
        emulator.media.add(stored)
    except MediaTooLargeForStore as exc:
        raise bad_request(str(exc)) from exc
    return stored


async def customer_message(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    body = await read_model(request, CustomerMessage)
    if emulator.poster is None:
        return web.json_response({"error": "webhook delivery is off (WAMUX_SANDBOX_WEBHOOK_URL is empty)"}, status=409)
    try:
        wa_id = wa_id_of(body.from_)
    except MetaError as exc:
        raise bad_request(f"from: {exc.details}") from exc
    number = emulator.numbers.get(body.phone_number_id)
    if body.display_phone_number:
        number = dataclasses.replace(number, display_phone_number=body.display_phone_number)
    wamid = body.wamid or new_wamid(wa_id, inbound=True)
    answer: dict[str, object] = {"wamid": wamid, "gateway_status": None}
    kind: str = "text"
    content: dict[str, Any] = {"body": body.text}
    if body.media is not None:
        media = store_media(emulator, body.phone_number_id, body.media)
        kind, content = media.kind, media.webhook_json(body.media.caption)
        answer["media_id"] = media.id
    sent_at = datetime.now(UTC)
    answer["sent_at"] = iso(sent_at)
    payload = inbound_payload(number, wa_id=wa_id, name=body.name, wamid=wamid, at=sent_at, kind=kind, content=content)
    try:
        answer["gateway_status"] = await emulator.poster.post_once(payload)
    except (aiohttp.ClientError, TimeoutError) as exc:
        answer["error"] = f"gateway unreachable at {emulator.poster.url}: {type(exc).__name__}: {exc}"
        return web.json_response(answer, status=502)
    return web.json_response(answer)

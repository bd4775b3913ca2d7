"""``POST /_sandbox/customer_message``: the emulator plays a customer writing to a business number.

The webhook is delivered once, synchronously, so the caller learns the gateway's verdict at once.
Meta's at-least-once redelivery is played by sending again with the same ``wamid``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox.admin_io import bad_request, read_model
from sandbox.graph_state import EMULATOR
from sandbox.graph_validation import wa_id_of
from sandbox.ids import new_wamid
from sandbox.meta_errors import MetaError
from sandbox.state import iso
from sandbox.webhooks import inbound_text_payload


class CustomerMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    phone_number_id: str = Field(min_length=1)
    display_phone_number: str | None = None
    from_: str = Field(alias="from", min_length=1)
    name: str = "Customer"
    text: str = Field(min_length=1)
    wamid: str | None = None


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
    sent_at = datetime.now(UTC)
    payload = inbound_text_payload(number, wa_id=wa_id, name=body.name, wamid=wamid, text=body.text, at=sent_at)
    answer: dict[str, object] = {"wamid": wamid, "gateway_status": None, "sent_at": iso(sent_at)}
    try:
        answer["gateway_status"] = await emulator.poster.post_once(payload)
    except (aiohttp.ClientError, TimeoutError) as exc:
        answer["error"] = f"gateway unreachable at {emulator.poster.url}: {type(exc).__name__}: {exc}"
        return web.json_response(answer, status=502)
    return web.json_response(answer)

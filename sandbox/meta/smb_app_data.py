"""``POST /{phone_number_id}/smb_app_data``: a coexistence number's contact and history sync (onboarding-facts §3).

- ``{"messaging_product": "whatsapp", "sync_type": "smb_app_state_sync" | "history"}`` with the system-user token
  or a business token that reaches the number → ``{"messaging_product": "whatsapp", "request_id": …}``.
- Each sync_type once per number, as at Meta. Meta names no code for the second request; the emulator answers
  code 100 saying "already requested" (integrators match Meta's refusal on "already").
- Only for a number on the WhatsApp Business app (``is_on_biz_app``): any other is code 100, as ``/register``
  refuses a coexistence number with a 100 (Meta documents no code for this either).
- Then, when webhooks are on, Meta's data arrives as a webhook of that field: ``smb_app_state_sync`` with one
  contact added, ``history`` with phase 0 complete (progress 100): one thread holding one customer message.
  Shapes from Meta's webhooks reference (the same as the golden payloads in ``tests/data/webhooks/``).

Not emulated: the 24-hour window after onboarding, history phases 1 and 2, media placeholders, later contact edits.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.meta.accounts import PhoneNumber
from sandbox.meta.emulator_state import EMULATOR
from sandbox.meta.errors import MetaError, invalid_param
from sandbox.meta.ids import new_wamid
from sandbox.meta.media import VERSION
from sandbox.meta.objects import resolve_number
from sandbox.meta.params import graph_params, required
from sandbox.meta.webhooks import unix

SYNC_TYPES = ("smb_app_state_sync", "history")
# The contact of Meta's reference examples: the address book's entry and the chat in the history agree.
SAMPLE_CONTACT = {"full_name": "Pablo Morales", "first_name": "Pablo", "phone_number": "16505551234"}
SAMPLE_MESSAGE = "¿Tienen disponibilidad el sábado?"


def add_smb_app_data_routes(app: web.Application) -> None:
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/smb_app_data", request_sync)


async def request_sync(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    number = resolve_number(request, emulator, request.match_info["phone_number_id"])
    params = await graph_params(request)
    product = required(params, "messaging_product")
    if product != "whatsapp":
        raise invalid_param(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')
    sync_type = required(params, "sync_type")
    if sync_type not in SYNC_TYPES:
        raise invalid_param(f'Param sync_type must be one of {{SMB_APP_STATE_SYNC, HISTORY}} - got "{sync_type}".')
    if not number.is_on_biz_app:
        raise MetaError(
            100,
            message="(#100) smb_app_data is only available for a phone number onboarded from the WhatsApp Business app",
        )
    if sync_type in number.syncs:
        raise MetaError(
            100,
            message=f"(#100) The {sync_type} sync was already requested for this phone number: "
            "each sync_type can be requested only once",
        )
    number.syncs.append(sync_type)
    if emulator.poster is not None:
        value = state_sync_value() if sync_type == "smb_app_state_sync" else history_value()
        emulator.spawn(emulator.poster.deliver(sync_payload(number, sync_type, value)))
    return web.json_response({"messaging_product": "whatsapp", "request_id": secrets.token_hex(16)})


def sync_payload(number: PhoneNumber, field: str, value: dict[str, Any]) -> dict[str, Any]:
    """One ``entry`` for the number's WABA, one change of ``field``; metadata names the number in bare digits."""
    metadata = {"display_phone_number": number.digits, "phone_number_id": number.id}
    change = {"value": {"messaging_product": "whatsapp", "metadata": metadata, **value}, "field": field}
    return {"object": "whatsapp_business_account", "entry": [{"id": number.waba_id, "changes": [change]}]}


def state_sync_value() -> dict[str, Any]:
    now = datetime.now(UTC)
    entry = {"type": "contact", "contact": dict(SAMPLE_CONTACT), "action": "add", "metadata": {"timestamp": unix(now)}}
    return {"state_sync": [entry]}


def history_value() -> dict[str, Any]:
    customer = SAMPLE_CONTACT["phone_number"]
    message = {
        "from": customer,
        "id": new_wamid(customer, inbound=True),
        "timestamp": unix(datetime.now(UTC) - timedelta(hours=3)),  # written in the app before onboarding
        "type": "text",
        "text": {"body": SAMPLE_MESSAGE},
        "history_context": {"status": "READ"},
    }
    chunk = {
        "metadata": {"phase": 0, "chunk_order": 1, "progress": 100},
        "threads": [{"id": customer, "messages": [message]}],
    }
    return {"history": [chunk]}

"""Meta's webhook payloads, built the way Meta sends them (Cloud API webhook reference)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def new_wamid() -> str:
    return f"wamid.HBgM{uuid.uuid4().hex.upper()}"


def text_message(
    body: str, *, sender: str = "573001112233", wamid: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid or new_wamid(),
        "timestamp": str(timestamp or int(time.time())),
        "type": "text",
        "text": {"body": body},
    }


def reaction_message(
    emoji: str, *, to_wamid: str, sender: str = "573001112233", timestamp: int | None = None
) -> dict[str, Any]:
    """A customer's reaction (``emoji``) to the message ``to_wamid``."""
    return {
        "from": sender,
        "id": new_wamid(),
        "timestamp": str(timestamp or int(time.time())),
        "type": "reaction",
        "reaction": {"message_id": to_wamid, "emoji": emoji},
    }


def status(wamid: str, state: str, *, recipient: str = "573001112233", timestamp: int | None = None) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": state,
        "timestamp": str(timestamp or int(time.time())),
        "recipient_id": recipient,
        "conversation": {"id": "CONV1", "origin": {"type": "service"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "service"},
    }


def notification(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] = (),  # type: ignore[assignment]
    statuses: list[dict[str, Any]] = (),
    name: str = "Ana",  # type: ignore[assignment]
    display_phone_number: str = "576015550100",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": m["from"]} for m in messages if "from" in m]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "200000000000009", "changes": [{"field": "messages", "value": value}]}],
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()

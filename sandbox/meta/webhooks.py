"""Meta's webhook payloads, their signature, and their delivery to the gateway.

Shapes follow Meta's "messages" webhook reference: one ``entry`` per WABA, one ``change`` with
``field: "messages"``, and a ``value`` holding ``metadata`` plus ``messages``/``contacts`` or ``statuses``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from sandbox.meta.state import BusinessNumber, Conversation

log = logging.getLogger("sandbox.meta.webhooks")

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def unix(moment: datetime) -> str:
    return str(int(moment.timestamp()))


def envelope(number: BusinessNumber, value: dict[str, Any]) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number,
            "phone_number_id": number.phone_number_id,
        },
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": number.waba_id, "changes": [{"field": "messages", "value": value}]}],
    }


def status_payload(
    number: BusinessNumber,
    *,
    wamid: str,
    status: str,
    recipient_id: str,
    conversation: Conversation,
    category: str,
    at: datetime,
    callback_data: str | None = None,
) -> dict[str, Any]:
    conv: dict[str, Any] = {"id": conversation.id}
    if status == "sent":  # Meta puts the expiration on the first status of a conversation's message
        conv["expiration_timestamp"] = unix(conversation.expires_at)
    conv["origin"] = {"type": category}
    item = {
        "id": wamid,
        "status": status,
        "timestamp": unix(at),
        "recipient_id": recipient_id,
        "conversation": conv,
        "pricing": {"billable": True, "pricing_model": "PMP", "category": category, "type": "regular"},
    }
    if callback_data is not None:  # echoed on every status of the message, as Meta does
        item["biz_opaque_callback_data"] = callback_data
    return envelope(number, {"statuses": [item]})


def inbound_payload(
    number: BusinessNumber, *, wa_id: str, name: str, wamid: str, at: datetime, kind: str, content: dict[str, Any]
) -> dict[str, Any]:
    """A customer's message: ``type`` names the object that holds it (text{body}, image{id, …}, …)."""
    message = {"from": wa_id, "id": wamid, "timestamp": unix(at), "type": kind, kind: content}
    return envelope(number, {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]})


def inbound_text_payload(
    number: BusinessNumber, *, wa_id: str, name: str, wamid: str, text: str, at: datetime
) -> dict[str, Any]:
    return inbound_payload(number, wa_id=wa_id, name=name, wamid=wamid, at=at, kind="text", content={"body": text})


class WebhookPoster:
    """Posts signed webhooks like Meta: compact JSON, signature on the exact bytes sent.

    ``overrides`` maps an entry's id (the WABA) to the callback URL its subscription overrides, if any.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: bytes,
        attempts: int,
        backoff_s: float,
        overrides: Callable[[str], str | None] | None = None,
    ) -> None:
        self._session = session
        self.url = url
        self._secret = secret
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._overrides = overrides

    def url_for(self, payload: dict[str, Any]) -> str:
        entries = payload.get("entry") or [{}]
        override = self._overrides(str(entries[0].get("id", ""))) if self._overrides else None
        return override or self.url

    async def post_once(self, payload: dict[str, Any]) -> int:
        """One delivery attempt; the gateway's HTTP status. Raises aiohttp.ClientError if unreachable."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body),
            "User-Agent": "facebookexternalua",
        }
        async with self._session.post(self.url_for(payload), data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def deliver(self, payload: dict[str, Any]) -> bool:
        """Deliver with retries and doubling backoff; False once every attempt failed."""
        for attempt in range(1, self._attempts + 1):
            try:
                status = await self.post_once(payload)
                if 200 <= status < 300:
                    return True
                reason = f"HTTP {status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt < self._attempts:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        log.warning("webhook to %s abandoned after %d attempts: %s", self.url_for(payload), self._attempts, reason)
        return False

"""A small client for the WhatsApp Cloud API (Meta's Graph API), the one every service uses.

Points at ``graph_base_url`` (Meta in production, the sandbox emulator elsewhere). Errors come back as the
typed exceptions of :mod:`shared.graph_errors`; a network failure or timeout is a ``TransientGraphError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from pydantic import SecretStr

from shared.graph_errors import GraphError, TransientGraphError, from_response
from shared.settings import Settings


class GraphClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, version: str, token: SecretStr):
        self._session = session
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._token = token

    async def send_text(self, phone_number_id: str, to: str, body: str, reply_to_wamid: str | None = None) -> str:
        """Send a free-form text; return the new message's wamid."""
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": {"body": body, "preview_url": False},
        }
        if reply_to_wamid:
            payload["context"] = {"message_id": reply_to_wamid}
        answer = await self._post(f"{phone_number_id}/messages", payload)
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise GraphError(f"send answer without a wamid: {str(answer)[:200]}") from exc

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        await self._post(
            f"{phone_number_id}/messages", {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        )

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            async with self._session.post(f"{self._base}/{path}", json=payload, headers=headers) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                if response.status >= 400:
                    raise from_response(response.status, body)
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientGraphError(f"Graph API unreachable: {type(exc).__name__}") from exc


@asynccontextmanager
async def graph_client(settings: Settings) -> AsyncIterator[GraphClient]:
    timeout = aiohttp.ClientTimeout(total=settings.graph_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield GraphClient(session, settings.graph_base_url, settings.graph_api_version, settings.graph_token)

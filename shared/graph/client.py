"""A small client for the WhatsApp Cloud API (Meta's Graph API), the one every service uses.

Points at ``graph_base_url`` (Meta in production, the sandbox emulator elsewhere). Errors come back as the
typed exceptions of :mod:`shared.graph.errors`; a network failure or timeout is a ``TransientGraphError``.
Media download URLs are signed and short-lived: they are never logged nor put in an error, only their host
and path are.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import SecretStr, ValidationError

from shared.graph.errors import GraphError, TransientGraphError, from_response
from shared.graph.media import (
    CHUNK_BYTES,
    DEFAULT_MAX_MEDIA_BYTES,
    DownloadedMedia,
    MediaChecksumMismatch,
    MediaInfo,
    MediaTooLarge,
    checked_media_id,
    digest_of,
    download_error,
    public_part,
)
from shared.settings import GraphSettings


class GraphClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, version: str, token: SecretStr):
        self._session = session
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._token = token
        self._json_headers = {**self._auth(), "Content-Type": "application/json"}

    def with_token(self, token: SecretStr) -> GraphClient:
        """The same client (session, base URL, version) calling with another token: a client's business token."""
        other = copy.copy(self)
        other._token = token
        other._json_headers = {**other._auth(), "Content-Type": "application/json"}
        return other

    async def send_text(
        self,
        phone_number_id: str,
        to: str,
        body: str,
        reply_to_wamid: str | None = None,
        callback_data: str | None = None,
    ) -> str:
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
        if callback_data:  # echoed by Meta on every status of this message
            payload["biz_opaque_callback_data"] = callback_data
        answer = await self._post(f"{phone_number_id}/messages", payload)
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise GraphError(f"send answer without a wamid: {str(answer)[:200]}") from exc

    async def mark_read(self, phone_number_id: str, wamid: str, typing: bool = False) -> None:
        """Blue ticks on the customer's message; with ``typing``, "typing…" until the reply (Meta: at most 25 s)."""
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        await self._post(f"{phone_number_id}/messages", payload)

    async def upload_media(self, phone_number_id: str, data: bytes, mime_type: str, filename: str) -> str:
        """Upload a file to send later by id; return the media id. Meta keeps it 30 days."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", data, content_type=mime_type, filename=filename)
        answer = await self._call("POST", f"{phone_number_id}/media", data=form)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise GraphError(f"upload answer without a media id: {str(answer)[:200]}")
        return str(answer["id"])

    async def media_info(self, media_id: str, phone_number_id: str | None = None) -> MediaInfo:
        """Where to download a media (a URL valid for minutes), its type, size and sha256.
        With ``phone_number_id``, Meta answers only if the media belongs to that number."""
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        answer = await self._call("GET", checked_media_id(media_id), params=params)
        try:
            return MediaInfo.model_validate(answer)
        except ValidationError as exc:  # its text would quote the signed URL
            missing = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            raise GraphError(f"media answer for {media_id} lacks or mangles: {', '.join(missing)}") from None

    async def delete_media(self, media_id: str, phone_number_id: str | None = None) -> None:
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        await self._call("DELETE", checked_media_id(media_id), params=params)

    async def download_media(
        self, media_id: str, max_bytes: int = DEFAULT_MAX_MEDIA_BYTES, phone_number_id: str | None = None
    ) -> DownloadedMedia:
        """Fetch a fresh URL for the media, download it (at most ``max_bytes``) and check its sha256."""
        return await self.download(await self.media_info(media_id, phone_number_id), max_bytes=max_bytes)

    async def download(self, info: MediaInfo, *, max_bytes: int = DEFAULT_MAX_MEDIA_BYTES) -> DownloadedMedia:
        where = public_part(info.url)
        if urlsplit(info.url).scheme != "https" and self._base.startswith("https:"):
            raise GraphError(f"media URL {where} is not https: the access token is not sent in clear")
        if info.file_size > max_bytes:
            raise MediaTooLarge(f"media {info.id} has {info.file_size} bytes, more than the {max_bytes} allowed")
        data = await self._fetch(info, where, max_bytes)
        digest = hashlib.sha256(data).digest()
        announced = digest_of(info.sha256)
        if announced is None or not hmac.compare_digest(digest, announced):
            raise MediaChecksumMismatch(
                f"media {info.id} from {where}: sha256 {digest.hex()} does not match Meta's {info.sha256}"
            )
        return DownloadedMedia(info.id, info.mime_type, digest.hex(), data)

    async def _fetch(self, info: MediaInfo, where: str, max_bytes: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with self._session.get(info.url, headers=self._auth()) as response:
                if response.status >= 400:
                    raise await download_error(response, info.id, where)
                if (response.content_length or 0) > max_bytes:
                    raise MediaTooLarge(f"media {info.id} is {response.content_length} bytes, over {max_bytes}")
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaTooLarge(f"media {info.id} from {where} went past {max_bytes} bytes")
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Not chained: aiohttp's exceptions can quote the signed URL.
            raise TransientGraphError(f"media download from {where} failed: {type(exc).__name__}") from None
        return b"".join(chunks)

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        """A JSON body encoded here, compact, with headers made once per token (a send's hot path)."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return await self._call("POST", path, self._json_headers, data=body)

    async def _call(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """``headers`` replace the system-user token's (a business token's bearer, or none at all)."""
        try:
            async with self._session.request(
                method, f"{self._base}/{path}", headers=self._auth() if headers is None else headers, **kwargs
            ) as response:
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
async def graph_client(settings: GraphSettings) -> AsyncIterator[GraphClient]:
    timeout = aiohttp.ClientTimeout(total=settings.graph_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield GraphClient(session, settings.graph_base_url, settings.graph_api_version, settings.graph_token)

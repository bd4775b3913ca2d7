"""A small client for the WhatsApp Cloud API (Meta's Graph API), the one every service uses.

Points at ``graph_base_url`` (Meta in production, the sandbox emulator elsewhere). Errors come back as the
typed exceptions of :mod:`shared.graph_errors`; a network failure or timeout is a ``TransientGraphError``.
Media download URLs are signed and short-lived: they are never logged nor put in an error, only their host
and path are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from shared.graph_errors import GraphError, InvalidRequest, TokenInvalid, TransientGraphError, from_response
from shared.settings import Settings

# WhatsApp carries audio and video up to 16 MB; documents (up to 100 MB) need a larger cap, chosen by the caller.
DEFAULT_MAX_MEDIA_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024
_MEDIA_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")  # Graph object ids are digits; never a path


class MediaUrlExpired(TransientGraphError):
    """The download URL answered 404: it expired (Meta's last minutes) or the media was just deleted.
    Calling ``download_media`` again fetches a fresh URL (or fails with ``InvalidRequest`` if the media is gone)."""


class MediaChecksumMismatch(TransientGraphError):
    """The downloaded bytes do not hash to the sha256 Meta announced: the transfer was corrupted."""


class MediaTooLarge(GraphError):
    """The media is larger than the caller's ``max_bytes``; nothing beyond that was read."""


class MediaInfo(BaseModel):
    """Meta's answer to ``GET /{media_id}``. ``file_size`` comes as a string in Meta's reference, so both parse."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    id: str
    url: str = Field(repr=False)  # signed, valid for minutes: keep out of logs
    mime_type: str
    sha256: str
    file_size: int


@dataclass(frozen=True)
class DownloadedMedia:
    id: str
    mime_type: str
    sha256: str  # hex, verified against Meta's
    data: bytes = field(repr=False)

    @property
    def file_size(self) -> int:
        return len(self.data)


def _public_part(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _digest_of(announced: str) -> bytes | None:
    """Meta gives the hash in hex from ``GET /{media_id}`` and in base64 in webhooks: accept either."""
    try:
        return bytes.fromhex(announced) if len(announced) == 64 else base64.b64decode(announced, validate=True)
    except (ValueError, binascii.Error):
        return None


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
        answer = await self._call("GET", _checked_media_id(media_id), params=params)
        try:
            return MediaInfo.model_validate(answer)
        except ValidationError as exc:  # its text would quote the signed URL
            missing = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            raise GraphError(f"media answer for {media_id} lacks or mangles: {', '.join(missing)}") from None

    async def delete_media(self, media_id: str, phone_number_id: str | None = None) -> None:
        params = {"phone_number_id": phone_number_id} if phone_number_id else None
        await self._call("DELETE", _checked_media_id(media_id), params=params)

    async def download_media(
        self, media_id: str, max_bytes: int = DEFAULT_MAX_MEDIA_BYTES, phone_number_id: str | None = None
    ) -> DownloadedMedia:
        """Fetch a fresh URL for the media, download it (at most ``max_bytes``) and check its sha256."""
        return await self.download(await self.media_info(media_id, phone_number_id), max_bytes=max_bytes)

    async def download(self, info: MediaInfo, *, max_bytes: int = DEFAULT_MAX_MEDIA_BYTES) -> DownloadedMedia:
        where = _public_part(info.url)
        if urlsplit(info.url).scheme != "https" and self._base.startswith("https:"):
            raise GraphError(f"media URL {where} is not https: the access token is not sent in clear")
        if info.file_size > max_bytes:
            raise MediaTooLarge(f"media {info.id} has {info.file_size} bytes, more than the {max_bytes} allowed")
        data = await self._fetch(info, where, max_bytes)
        digest = hashlib.sha256(data).digest()
        announced = _digest_of(info.sha256)
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
                    raise await _download_error(response, info.id, where)
                if (response.content_length or 0) > max_bytes:
                    raise MediaTooLarge(f"media {info.id} is {response.content_length} bytes, over {max_bytes}")
                async for chunk in response.content.iter_chunked(_CHUNK):
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
        return await self._call("POST", path, json=payload)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with self._session.request(
                method, f"{self._base}/{path}", headers=self._auth(), **kwargs
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


def _checked_media_id(media_id: str) -> str:
    if not _MEDIA_ID.match(media_id):
        raise InvalidRequest(f"{media_id[:80]!r} is not a media id")
    return media_id


async def _download_error(response: aiohttp.ClientResponse, media_id: str, where: str) -> GraphError:
    if response.status == 404:
        return MediaUrlExpired(
            f"media {media_id}: download URL at {where} expired or the media is gone (HTTP 404); "
            "download it again for a fresh URL",
            http_status=404,
        )
    try:
        body = await response.json(content_type=None)
    except ValueError:
        body = None
    error = from_response(response.status, body)
    if response.status == 401 and not isinstance(error, TokenInvalid):
        return TokenInvalid(f"media download at {where} refused the access token (HTTP 401)", http_status=401)
    return error


@asynccontextmanager
async def graph_client(settings: Settings) -> AsyncIterator[GraphClient]:
    timeout = aiohttp.ClientTimeout(total=settings.graph_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield GraphClient(session, settings.graph_base_url, settings.graph_api_version, settings.graph_token)

"""Media in Meta's Graph API: what ``GET /{media_id}`` answers, what a download yields, and how either fails.

Download URLs are signed and short-lived: only their scheme, host and path ever reach a log or an error.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from shared.graph.errors import GraphError, InvalidRequest, TokenInvalid, TransientGraphError, from_response

# WhatsApp carries audio and video up to 16 MB; documents (up to 100 MB) need a larger cap, chosen by the caller.
DEFAULT_MAX_MEDIA_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
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


def public_part(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def digest_of(announced: str) -> bytes | None:
    """Meta gives the hash in hex from ``GET /{media_id}`` and in base64 in webhooks: accept either."""
    try:
        return bytes.fromhex(announced) if len(announced) == 64 else base64.b64decode(announced, validate=True)
    except (ValueError, binascii.Error):
        return None


def checked_media_id(media_id: str) -> str:
    if not _MEDIA_ID.match(media_id):
        raise InvalidRequest(f"{media_id[:80]!r} is not a media id")
    return media_id


async def download_error(response: aiohttp.ClientResponse, media_id: str, where: str) -> GraphError:
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

"""Media the emulator holds (business uploads and customers' files) and the short-lived URLs that serve it.

Types and size limits follow Meta's "Supported media types" (Cloud API reference, Media). Sizes are taken
as binary units (1 MB = 1,048,576 bytes); Meta does not say which it means.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

MB = 1024 * 1024
# What POST /{phone_number_id}/media accepts, and the kind of message each type can be sent as.
UPLOAD_TYPES: dict[str, str] = {
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",  # OPUS codecs only
    "text/plain": "document",
    "application/pdf": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "sticker",
    "video/mp4": "video",
    "video/3gpp": "video",
}
# Animated stickers may have 500 KB; Meta limits static ones to 100 KB, which the emulator does not tell apart.
SIZE_LIMITS: dict[str, int] = {
    "audio": 16 * MB,
    "video": 16 * MB,
    "image": 5 * MB,
    "document": 100 * MB,
    "sticker": 500 * 1024,
}


def base_mime(mime_type: str) -> str:
    """``audio/ogg; codecs=opus`` → ``audio/ogg``."""
    return mime_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class MediaObject:
    id: str
    phone_number_id: str  # the business number it was uploaded on or sent to
    kind: str  # image, audio, video, document or sticker
    mime_type: str
    data: bytes = field(repr=False)
    filename: str | None = None
    digest: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.data).digest())

    def retrieve_json(self, url: str) -> dict[str, Any]:
        # GET /{media_id} gives the hash in hex, and file_size as a string as in Meta's reference example.
        return {
            "messaging_product": "whatsapp",
            "url": url,
            "mime_type": self.mime_type,
            "sha256": self.digest.hex(),
            "file_size": str(len(self.data)),
            "id": self.id,
        }

    def webhook_json(self, caption: str | None = None) -> dict[str, Any]:
        # Inbound webhooks give the same hash base64-encoded.
        item: dict[str, Any] = {}
        if caption is not None:
            item["caption"] = caption
        if self.filename is not None:
            item["filename"] = self.filename
        item.update(mime_type=self.mime_type, sha256=base64.b64encode(self.digest).decode(), id=self.id)
        return item


class MediaTooLargeForStore(Exception):
    pass


class MediaStore:
    """Media by id, in memory, bounded in total bytes: the oldest is forgotten first, as Meta's expires."""

    def __init__(self, max_total_bytes: int) -> None:
        self.max_total_bytes = max_total_bytes
        self._media: OrderedDict[str, MediaObject] = OrderedDict()
        self._total = 0

    @property
    def total_bytes(self) -> int:
        return self._total

    def add(self, media: MediaObject) -> None:
        size = len(media.data)
        if size > self.max_total_bytes:
            raise MediaTooLargeForStore(f"the sandbox keeps at most {self.max_total_bytes} bytes of media")
        while self._media and self._total + size > self.max_total_bytes:
            _, oldest = self._media.popitem(last=False)
            self._total -= len(oldest.data)
        self._media[media.id] = media
        self._total += size

    def get(self, media_id: str, phone_number_id: str | None = None) -> MediaObject | None:
        media = self._media.get(media_id)
        if media is None or phone_number_id not in (None, media.phone_number_id):
            return None
        return media

    def delete(self, media_id: str) -> None:
        media = self._media.pop(media_id, None)
        if media is not None:
            self._total -= len(media.data)


class DownloadUrls:
    """Signed download URLs shaped like Meta's lookaside ones: ``?mid=<id>&ext=<expiry>&hash=<signature>``.

    ``ext`` is the expiry in unix seconds; the signature covers it, so a URL cannot be stretched.
    """

    PATH = "/whatsapp_business/attachments/"

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._key = secrets.token_bytes(32)

    def _sign(self, media_id: str, ext: str) -> str:
        mac = hmac.new(self._key, f"{media_id}:{ext}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode()

    def issue(self, origin: str, media_id: str) -> str:
        ext = str(int(self.clock() + self.ttl_s))
        query = urlencode({"mid": media_id, "ext": ext, "hash": self._sign(media_id, ext)})
        return f"{origin.rstrip('/')}{self.PATH}?{query}"

    def resolve(self, mid: str, ext: str, signature: str) -> str | None:
        """The media id a URL names, or None when its signature is wrong or it has expired."""
        if not hmac.compare_digest(self._sign(mid, ext).encode(), signature.encode()):
            return None
        if not ext.isdigit() or self.clock() >= int(ext):
            return None
        return mid

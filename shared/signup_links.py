"""Signup links: the agreement between the directory, which issues them, and the gateway, which serves them.

A link is ``{public_base_url}/onboard/{token}``; the token is the link's id and expiry, signed (HMAC-SHA256 under
``WAMUX_SIGNUP_LINK_SECRET``) and base64url-encoded, so a link cannot be forged or stretched, and a QR code of it
is short enough to scan. Whether a well-signed link is still live (not revoked by a newer one, not used up) is the
directory's record (``directory_read.signup_links``); the signature and expiry alone are checked here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr

_VERSION = 1
_LAYOUT = struct.Struct(">B16sQ")  # version, link id, expiry (unix seconds)
_MAC_BYTES = 16  # 128-bit tag: forging one is out of reach, and the QR code stays small


class BadLink(ValueError):
    """The token is not one wamux signed (garbled, truncated, tampered, another secret)."""


class ExpiredLink(ValueError):
    def __init__(self, link_id: uuid.UUID, expired_at: datetime):
        super().__init__(f"the link expired at {expired_at.isoformat()}")
        self.link_id, self.expired_at = link_id, expired_at


@dataclass(frozen=True)
class Link:
    id: uuid.UUID
    expires_at: datetime


def _mac(secret: SecretStr, payload: bytes) -> bytes:
    key = secret.get_secret_value().encode()
    if not key:
        raise ValueError("WAMUX_SIGNUP_LINK_SECRET is not set: signup links cannot be signed")
    return hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def sign(secret: SecretStr, link_id: uuid.UUID, expires_at: datetime) -> str:
    payload = _LAYOUT.pack(_VERSION, link_id.bytes, int(expires_at.timestamp()))
    return base64.urlsafe_b64encode(payload + _mac(secret, payload)).rstrip(b"=").decode()


def verify(secret: SecretStr, token: str, now: datetime | None = None) -> Link:
    """The link a token names; :class:`BadLink` unless wamux signed it, :class:`ExpiredLink` once past its time."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raise BadLink("not a signup link") from None
    if len(raw) != _LAYOUT.size + _MAC_BYTES:
        raise BadLink("not a signup link")
    payload, tag = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if not hmac.compare_digest(tag, _mac(secret, payload)):
        raise BadLink("the link's signature does not match")
    version, id_bytes, expiry = _LAYOUT.unpack(payload)
    if version != _VERSION:
        raise BadLink("not a signup link")
    link = Link(uuid.UUID(bytes=id_bytes), datetime.fromtimestamp(expiry, UTC))
    if (now or datetime.now(UTC)) >= link.expires_at:
        raise ExpiredLink(link.id, link.expires_at)
    return link


def url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/onboard/{token}"

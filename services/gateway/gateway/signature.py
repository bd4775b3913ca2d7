"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret>``.

Checked on the exact bytes received, in constant time: in one call for a body that arrived with its headers
(:func:`matches`), else while it streams in (:class:`Verifier`); an empty secret accepts nothing.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def claimed_digest(header: str | None) -> bytes | None:
    """The HMAC claimed by ``sha256=<64 hex>``, or None when the header is not that."""
    value = (header or "").strip()
    hex_digest = value[len(PREFIX) :] if value.startswith(PREFIX) else ""
    if len(hex_digest) != 2 * hashlib.sha256().digest_size:
        return None
    try:
        return bytes.fromhex(hex_digest)
    except ValueError:
        return None


def matches(body: bytes, app_secret: str, claimed: bytes) -> bool:
    """A whole body at once: one HMAC call (OpenSSL's one-shot), compared in constant time."""
    return bool(app_secret) and hmac.compare_digest(hmac.digest(app_secret.encode(), body, "sha256"), claimed)


class Verifier:
    """The HMAC of a body fed chunk by chunk, compared at the end with the ``claimed`` one (:func:`claimed_digest`)."""

    def __init__(self, app_secret: str, claimed: bytes):
        self.claimed, self._keyed = claimed, bool(app_secret)
        self._mac = hmac.new(app_secret.encode(), digestmod=hashlib.sha256)

    def update(self, chunk: bytes) -> Verifier:
        self._mac.update(chunk)
        return self

    def matches(self) -> bool:
        return self._keyed and hmac.compare_digest(self._mac.digest(), self.claimed)


def is_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    claimed = claimed_digest(header) if app_secret else None
    return claimed is not None and matches(body, app_secret, claimed)

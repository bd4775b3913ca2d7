"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, app secret>``."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Check on the exact bytes received, in constant time. An empty secret accepts nothing."""
    if not header or not app_secret or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, app_secret), header.strip())

"""The agreement on clients' API keys between the directory, which issues them, and the gateway, which checks them.

A key is shown once and stored only as its sha256 (``directory.clients.api_key_hash``); both sides hash with
:func:`hash_api_key`, so neither can drift from the other.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "wmx_"


def hash_api_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


def new_api_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)

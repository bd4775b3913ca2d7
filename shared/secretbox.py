"""Secrets encrypted at rest: AES-256-GCM under a ring of named keys, so the key can be rotated.

``WAMUX_CREDENTIAL_KEYS`` is ``"k2:<base64 of 32 bytes>,k1:<…>"``: the first key seals, every key opens what it
sealed. Rotating is: put a new key first, run ``python -m directory.admin rotate-credentials`` (everything sealed
again under it), then drop the old key. Each secret is sealed with associated data naming what it is
(``business_token:<waba_id>``), so a ciphertext copied onto another row does not open there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

SETTING = "WAMUX_CREDENTIAL_KEYS"
KEY_BYTES = 32
NONCE_BYTES = 12  # AES-GCM's standard nonce; random, and a key seals far fewer than 2**32 secrets
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class SecretboxError(Exception):
    """A secret that cannot be sealed or opened; the message never carries key material nor plaintext."""


class NoKeys(SecretboxError):
    pass


class UnknownKey(SecretboxError):
    """Sealed under a key the ring no longer (or never) held."""


class Tampered(SecretboxError):
    """The ciphertext, nonce or associated data is not what was sealed."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes  # with GCM's 16-byte tag at the end


class KeyRing:
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._order = tuple(key_id for key_id, _ in keys)
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    @classmethod
    def empty(cls) -> KeyRing:
        return cls(())

    @classmethod
    def from_setting(cls, value: SecretStr) -> KeyRing:
        """Parse ``id:base64key,…``; a ValueError says which entry is wrong and why, never what it holds."""
        raw = value.get_secret_value().strip()
        if not raw:
            return cls.empty()
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(raw.split(","), start=1):
            key_id, colon, encoded = entry.strip().partition(":")
            where = f"{SETTING} entry {position}"
            if not colon:
                raise ValueError(f"{where} is not id:base64key")
            if not _KEY_ID.match(key_id):
                raise ValueError(f"{where}: the key id must be 1-32 letters, digits, '.', '_' or '-'")
            if key_id in (k for k, _ in keys):
                raise ValueError(f"{where}: key id {key_id!r} appears twice")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{where} ({key_id!r}): the key is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise ValueError(f"{where} ({key_id!r}): the key must be {KEY_BYTES} bytes, not {len(key)}")
            keys.append((key_id, key))
        return cls(keys)

    @property
    def current(self) -> str | None:
        """The id of the key that seals (None: an empty ring)."""
        return self._order[0] if self._order else None

    @property
    def key_ids(self) -> tuple[str, ...]:
        return self._order

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._keys.get(key_id)
        if cipher is None:
            held = ", ".join(self._order) or "none"
            raise UnknownKey(f"sealed under key {key_id!r}, which {SETTING} does not hold (it holds: {held})")
        return cipher

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current!r}, key_ids={self._order!r})"

    __str__ = __repr__


def seal(ring: KeyRing, plaintext: SecretStr, *, aad: bytes) -> Sealed:
    key_id = ring.current
    if key_id is None:
        raise NoKeys(f"{SETTING} is not set: no key to encrypt credentials with (see new_key_setting)")
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = ring._cipher(key_id).encrypt(nonce, plaintext.get_secret_value().encode(), aad)
    return Sealed(key_id, nonce, ciphertext)


def open(ring: KeyRing, sealed: Sealed, *, aad: bytes) -> SecretStr:
    """The secret, once its key and associated data prove it is the one sealed (named as ``secretbox.open``)."""
    cipher = ring._cipher(sealed.key_id)
    try:
        plaintext = cipher.decrypt(sealed.nonce, sealed.ciphertext, aad)
    except (InvalidTag, ValueError):  # ValueError: a nonce of the wrong length
        raise Tampered(
            f"a secret sealed under key {sealed.key_id!r} does not open: its ciphertext, nonce or what it is "
            "bound to was changed"
        ) from None
    return SecretStr(plaintext.decode())


def new_key_setting(key_id: str) -> str:
    """A fresh ring entry ``id:base64key`` (prepend it to the setting to rotate)."""
    if not _KEY_ID.match(key_id):
        raise ValueError("the key id must be 1-32 letters, digits, '.', '_' or '-'")
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def fingerprint(secret: SecretStr) -> str:
    """A short, stable name for a secret (to tell two tokens apart in ids and logs) that does not reveal it."""
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest()[:16]

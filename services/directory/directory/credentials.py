"""The secrets the directory holds for its clients, encrypted at rest (``directory.credentials``).

A client's business token (subject: its WABA id) and a number's two-step PIN (subject: its phone_number_id),
each sealed with :mod:`shared.secretbox` under ``WAMUX_CREDENTIAL_KEYS``'s current key, bound to its kind and
subject, so a ciphertext moved onto another row does not open. The sender reads business tokens through
``directory_read.number_tokens`` (ciphertext only) and opens them with the same keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import asyncpg
from pydantic import SecretStr

from shared import secretbox
from shared.secretbox import KeyRing, Sealed

Kind = Literal["business_token", "pin"]


def associated_data(kind: Kind, subject: str) -> bytes:
    return f"{kind}:{subject}".encode()


async def store(
    conn: asyncpg.Connection,
    ring: KeyRing,
    kind: Kind,
    subject: str,
    secret: SecretStr,
    expires_at: datetime | None = None,
) -> None:
    """Keep ``secret`` as the ``kind`` of ``subject``, replacing the one kept before."""
    if not subject:
        raise ValueError(f"a {kind} needs its subject (a WABA id or a phone_number_id)")
    if not secret.get_secret_value():
        raise ValueError(f"refusing to store an empty {kind} for {subject}")
    sealed = secretbox.seal(ring, secret, aad=associated_data(kind, subject))
    await conn.execute(
        """
        INSERT INTO directory.credentials (kind, subject, key_id, nonce, ciphertext, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (kind, subject) DO UPDATE
           SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext,
               expires_at = EXCLUDED.expires_at, updated_at = now()
        """,
        kind,
        subject,
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
        expires_at,
    )


async def load(conn: asyncpg.Connection, ring: KeyRing, kind: Kind, subject: str) -> SecretStr | None:
    """The secret kept for ``subject`` (None: none kept, or past its expiry). A row that does not open raises
    :class:`shared.secretbox.Tampered` or :class:`shared.secretbox.UnknownKey`: never read as "no secret"."""
    row = await conn.fetchrow(
        "SELECT key_id, nonce, ciphertext, expires_at FROM directory.credentials WHERE kind = $1 AND subject = $2",
        kind,
        subject,
    )
    if row is None:
        return None
    secret = secretbox.open(ring, _sealed(row), aad=associated_data(kind, subject))
    if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
        return None
    return secret


async def reencrypt(conn: asyncpg.Connection, ring: KeyRing) -> int:
    """Seal every secret not under the ring's current key again under it; how many were. Run after putting a new
    key first in ``WAMUX_CREDENTIAL_KEYS``; once it answers 0, the old key may leave the ring."""
    current = ring.current
    if current is None:
        raise secretbox.NoKeys(f"{secretbox.SETTING} is not set: there is no key to encrypt credentials with")
    count = 0
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT kind, subject, key_id, nonce, ciphertext FROM directory.credentials WHERE key_id <> $1 "
            "ORDER BY kind, subject FOR UPDATE",
            current,
        )
        for row in rows:
            aad = associated_data(row["kind"], row["subject"])
            sealed = secretbox.seal(ring, secretbox.open(ring, _sealed(row), aad=aad), aad=aad)
            await conn.execute(
                "UPDATE directory.credentials SET key_id = $3, nonce = $4, ciphertext = $5, updated_at = now() "
                "WHERE kind = $1 AND subject = $2",
                row["kind"],
                row["subject"],
                sealed.key_id,
                sealed.nonce,
                sealed.ciphertext,
            )
            count += 1
    return count


def _sealed(row: asyncpg.Record) -> Sealed:
    return Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))

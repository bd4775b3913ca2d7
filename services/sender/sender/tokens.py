"""Which token a number sends with: its client's business token when the directory holds one, else the system
user's (``WAMUX_GRAPH_TOKEN``).

The directory publishes business tokens in ``directory_read.number_tokens`` as ciphertext; the sender opens them
with ``WAMUX_CREDENTIAL_KEYS``. What a number sends with is remembered for :data:`CACHE_S` (a read per send would
be one more query on the hot path), and forgotten at once when Meta rejects the token.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from pydantic import SecretStr

from shared import secretbox
from shared.messaging.consumer import Retry
from shared.secretbox import KeyRing, Sealed, SecretboxError

# A new or renewed token is used within this long; a rejected one is dropped at once.
CACHE_S = 60.0
# A token that does not open is a configuration fault (a key missing from the ring): held, not failed.
UNREADABLE_RETRY_S = 300


@dataclass(frozen=True)
class BusinessToken:
    waba_id: str
    secret: SecretStr = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return secretbox.fingerprint(self.secret)


class NumberTokens:
    def __init__(self, ring: KeyRing, *, cache_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic):
        self._ring = ring
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[tuple[uuid.UUID, str], tuple[float, BusinessToken | None]] = {}

    async def for_number(
        self, conn: asyncpg.Connection | asyncpg.Pool, client_id: uuid.UUID, phone_number_id: str
    ) -> BusinessToken | None:
        """The client's business token for this number (None: send with the system user's). A token that does
        not open raises a :class:`Retry` naming the fix, never falls back to another token."""
        key = (client_id, phone_number_id)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        row = await conn.fetchrow(
            "SELECT waba_id, key_id, nonce, ciphertext FROM directory_read.number_tokens "
            "WHERE client_id = $1 AND phone_number_id = $2",
            client_id,
            phone_number_id,
        )
        # An expired token is still used: Meta is the judge, and its 190 suspends the number (no quiet fallback).
        token = None if row is None else self._open(row)
        self._cache[key] = (self._clock() + self._cache_s, token)
        return token

    def forget(self, client_id: uuid.UUID, phone_number_id: str) -> None:
        self._cache.pop((client_id, phone_number_id), None)

    def _open(self, row: asyncpg.Record) -> BusinessToken:
        sealed = Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))
        aad = f"business_token:{row['waba_id']}".encode()
        try:
            return BusinessToken(row["waba_id"], secretbox.open(self._ring, sealed, aad=aad))
        except SecretboxError as exc:
            raise Retry(
                f"the business token of WABA {row['waba_id']} does not open ({exc}): give the sender the "
                "directory's WAMUX_CREDENTIAL_KEYS",
                delay_s=UNREADABLE_RETRY_S,
            ) from None

"""What the router set aside: parked parts with their reason, and the exact bytes of bodies it had to alter."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg

from router.webhook.notification import Unparsed

# Index entries are bounded (btree: about 2.7 kB); a longer phone_number_id on a parked part is cut, the
# payload keeps it whole.
_PARKED_ID_CHARS = 128


async def keep_original(conn: asyncpg.Connection, body: bytes) -> str:
    """The exact bytes of a body whose stored form differs from them; returns their sha256, the reference."""
    digest = hashlib.sha256(body).hexdigest()
    await conn.execute(
        "INSERT INTO router.originals (sha256, body) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING", digest, body
    )
    return digest


async def insert_parked(
    conn: asyncpg.Connection, digest: str, item: Unparsed, payload: Any, original_sha256: str | None
) -> bool:
    """``payload``: the part in a storable form (see ``router.reading.storable``)."""
    inserted = await conn.fetchval(
        """INSERT INTO router.parked (payload_sha256, reason, phone_number_id, payload, original_sha256)
           VALUES ($1, $2, $3, $4, $5)
           -- Parked again after a replay: waiting again (the event's derived id makes it no news downstream),
           -- for the reason it has now (a number once unknown may be pending by now).
           ON CONFLICT (payload_sha256) DO UPDATE SET replayed_at = NULL, reason = EXCLUDED.reason
            WHERE router.parked.replayed_at IS NOT NULL OR router.parked.reason <> EXCLUDED.reason
           RETURNING true""",
        digest,
        item.reason,
        item.phone_number_id[:_PARKED_ID_CHARS] if item.phone_number_id is not None else None,
        payload,
        original_sha256,
    )
    return bool(inserted)

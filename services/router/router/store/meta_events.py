"""Webhook fields other than ``messages``, each stored once by its digest."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from router.webhook.notification import FieldUpdate


async def insert_meta_event(
    conn: asyncpg.Connection, digest: str, update: FieldUpdate, client_id: uuid.UUID | None, value: dict[str, Any]
) -> bool:
    inserted = await conn.fetchval(
        """INSERT INTO router.meta_events (digest, field, waba_id, client_id, value)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING RETURNING true""",
        digest,
        update.field,
        update.waba_id,
        client_id,
        value,
    )
    return bool(inserted)

"""Clients (tenants): created or updated here, their API key returned once and stored hashed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared.api_keys import hash_api_key, new_api_key


@dataclass(frozen=True)
class NewClient:
    id: uuid.UUID
    api_key: str


async def upsert_client(
    conn: asyncpg.Connection,
    *,
    name: str,
    personality: str,
    timezone: str = "UTC",
    quota_policy: str = "count_paid",
    client_id: uuid.UUID | None = None,
    api_key: str | None = None,
) -> NewClient:
    """Create (or, with a known ``client_id``, update) a client. The API key is returned once, stored hashed."""
    client_id = client_id or uuid.uuid4()
    api_key = api_key or new_api_key()
    await conn.execute(
        """INSERT INTO directory.clients (id, name, personality, timezone, quota_policy, api_key_hash)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, personality = EXCLUDED.personality,
               timezone = EXCLUDED.timezone, quota_policy = EXCLUDED.quota_policy,
               api_key_hash = EXCLUDED.api_key_hash""",
        client_id,
        name,
        personality,
        timezone,
        quota_policy,
        hash_api_key(api_key),
    )
    return NewClient(client_id, api_key)

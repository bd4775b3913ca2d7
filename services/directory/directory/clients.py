"""Clients (tenants): created or updated here, their API key returned once and stored hashed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

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
    """Create (or, with a known ``client_id``, update) a client. The API key is returned once, stored hashed.
    A personality other than the current one is kept as its next version (saved by the operator)."""
    client_id = client_id or uuid.uuid4()
    api_key = api_key or new_api_key()
    before = await conn.fetchval("SELECT personality FROM directory.clients WHERE id = $1 FOR UPDATE", client_id)
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
    if personality and personality != before:
        language = await conn.fetchval("SELECT language FROM directory.clients WHERE id = $1", client_id)
        await record_personality(
            conn, client_id, personality=personality, profile=None, language=language, changed_by="operator"
        )
    return NewClient(client_id, api_key)


# What a client.create / client.update may set, as directory.clients columns (the command's field names).
PROFILE = ("name", "personality", "language", "timezone", "quota_policy", "free_quota")


async def create_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, profile: dict[str, Any], key: bytes | None
) -> bool:
    """Insert the client; ``False`` when the id exists already (nothing changed). Two at once: one inserts."""
    inserted = await conn.fetchval(
        """INSERT INTO directory.clients (id, name, personality, language, timezone, quota_policy, free_quota,
                                          api_key_hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING true""",
        client_id,
        *(profile[field] for field in PROFILE),
        key,
    )
    return bool(inserted)


async def client_for_update(conn: asyncpg.Connection, client_id: uuid.UUID) -> dict[str, Any] | None:
    """The client's profile (and key hash), locked until the transaction ends; ``None`` when unknown."""
    row = await conn.fetchrow(
        "SELECT name, personality, language, timezone, quota_policy, free_quota, api_key_hash, personality_version,"
        " personality_profile FROM directory.clients WHERE id = $1 FOR UPDATE",
        client_id,
    )
    return dict(row) if row is not None else None


async def update_client(conn: asyncpg.Connection, client_id: uuid.UUID, changes: dict[str, Any]) -> None:
    columns = [field for field in PROFILE if field in changes]  # names from PROFILE only, never from input
    if columns:
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(columns, start=2))
        await conn.execute(
            f"UPDATE directory.clients SET {assignments} WHERE id = $1",  # noqa: S608
            client_id,
            *(changes[c] for c in columns),
        )


async def record_personality(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    *,
    personality: str,
    profile: dict[str, Any] | None,
    language: str,
    changed_by: str,
) -> int:
    """Keep this personality as the client's next version (every saved one is kept) and make it current."""
    version = int(
        await conn.fetchval(
            """INSERT INTO directory.personality_versions
                   (client_id, version, personality, profile, language, changed_by)
               SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4, $5
                 FROM directory.personality_versions WHERE client_id = $1
            RETURNING version""",
            client_id,
            personality,
            profile,
            language,
            changed_by,
        )
    )
    await conn.execute(
        """UPDATE directory.clients SET personality = $2, personality_profile = $3, personality_version = $4
            WHERE id = $1""",
        client_id,
        personality,
        profile,
        version,
    )
    return version

"""The directory (clients and their numbers): the gateway's own schema, written only from here."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg
import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str, default_region: str | None = None) -> str:
    """'+57 300 123 4567' → '+573001234567'; a number that cannot exist is refused with the reason."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid number for its country: give it in E.164, e.g. +57…")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def hash_api_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


def new_api_key() -> str:
    return "wmx_" + secrets.token_urlsafe(32)


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


async def upsert_number(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID,
    phone_number: str,
    phone_number_id: str,
    waba_id: str,
    display_name: str = "",
    status: str = "active",
    free_quota: int = 1000,
) -> uuid.UUID:
    number_id = await conn.fetchval(
        """INSERT INTO directory.numbers
               (id, client_id, phone_number, phone_number_id, waba_id, display_name, status, free_quota)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (phone_number_id) DO UPDATE SET client_id = EXCLUDED.client_id,
               phone_number = EXCLUDED.phone_number, waba_id = EXCLUDED.waba_id,
               display_name = EXCLUDED.display_name, status = EXCLUDED.status, free_quota = EXCLUDED.free_quota
           RETURNING id""",
        uuid.uuid4(),
        client_id,
        to_e164(phone_number),
        phone_number_id,
        waba_id,
        display_name,
        status,
        free_quota,
    )
    return uuid.UUID(str(number_id))

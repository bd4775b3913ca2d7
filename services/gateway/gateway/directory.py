"""The directory (clients and their numbers): the gateway's own schema, written only from here.

A number belongs to one client at a time. Adding a number another client holds is refused: a number changes owner
only through :func:`move_number`, which records the move (and ``gateway.admin move-number`` announces it).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import phonenumbers

from shared.logging import mask_phone


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


class NumberConflict(ValueError):
    """The number is held otherwise than asked: moving it between clients is ``move-number``, never a side effect."""


class NotInDirectory(LookupError):
    pass


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
    """Put a number under a client, or update it there (idempotent). A number another client holds is refused."""
    e164 = to_e164(phone_number)
    try:
        async with conn.transaction():  # a savepoint inside the caller's transaction: a refusal leaves it usable
            number_id = await conn.fetchval(
                """INSERT INTO directory.numbers
                       (id, client_id, phone_number, phone_number_id, waba_id, display_name, status, free_quota)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (phone_number_id) DO UPDATE SET phone_number = EXCLUDED.phone_number,
                       waba_id = EXCLUDED.waba_id, display_name = EXCLUDED.display_name, status = EXCLUDED.status,
                       free_quota = EXCLUDED.free_quota
                    WHERE directory.numbers.client_id = EXCLUDED.client_id
                   RETURNING id""",
                uuid.uuid4(),
                client_id,
                e164,
                phone_number_id,
                waba_id,
                display_name,
                status,
                free_quota,
            )
    except asyncpg.UniqueViolationError:  # the phone number is already there under another phone_number_id
        number_id = None
    if number_id is None:
        raise await _conflict(conn, client_id, phone_number_id, e164)
    return uuid.UUID(str(number_id))


async def _conflict(conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str, e164: str) -> NumberConflict:
    row = await conn.fetchrow(
        """SELECT client_id, phone_number_id FROM directory.numbers WHERE phone_number_id = $1 OR phone_number = $2
            ORDER BY client_id <> $3 DESC, phone_number_id = $1 DESC LIMIT 1""",
        phone_number_id,
        e164,
        client_id,
    )
    if row is None:  # gone meanwhile: let the operator simply try again
        return NumberConflict(f"phone_number_id {phone_number_id} changed while it was being added: try again")
    held = f"phone_number_id {phone_number_id}" if row["phone_number_id"] == phone_number_id else mask_phone(e164)
    if row["client_id"] != client_id:
        return NumberConflict(
            f"{held} belongs to client {row['client_id']}: use move-number "
            f"--phone-number-id {row['phone_number_id']} --to-client-id {client_id} to give it to this client"
        )
    return NumberConflict(
        f"{held} is already this client's under phone_number_id {row['phone_number_id']}: add it with that id"
    )


@dataclass(frozen=True)
class Move:
    """One change of a number's owner, as recorded in ``directory.number_moves``."""

    id: uuid.UUID
    phone_number_id: str
    phone_number: str
    from_client_id: uuid.UUID
    to_client_id: uuid.UUID
    moved_at: datetime


async def move_number(
    conn: asyncpg.Connection,
    *,
    phone_number_id: str,
    to_client_id: uuid.UUID,
    free_quota: int | None = None,
    display_name: str | None = None,
    waba_id: str | None = None,
) -> Move | None:
    """Give a number to another client in one transaction, and record the move; the number's past (usage,
    conversations, contacts) stays with the client it belonged to. ``free_quota``, ``display_name`` and
    ``waba_id`` are the new owner's when given, else kept.

    Moving a number again to the client a move gave it to returns that move (a retried move is the same move);
    ``None`` when the client holds the number without having been given it by a move: nothing to do.
    """
    async with conn.transaction():
        number = await conn.fetchrow(
            "SELECT client_id, phone_number, free_quota FROM directory.numbers WHERE phone_number_id = $1 FOR UPDATE",
            phone_number_id,
        )
        if number is None:
            raise NotInDirectory(f"phone_number_id {phone_number_id} is not in the directory: use add-number")
        if not await conn.fetchval("SELECT true FROM directory.clients WHERE id = $1", to_client_id):
            raise NotInDirectory(f"client {to_client_id} does not exist: create it first (add-client)")
        if number["client_id"] == to_client_id:
            last = await conn.fetchrow(
                """SELECT id, phone_number_id, phone_number, from_client_id, to_client_id, moved_at
                     FROM directory.number_moves WHERE phone_number_id = $1 ORDER BY moved_at DESC LIMIT 1""",
                phone_number_id,
            )
            return Move(**dict(last)) if last is not None and last["to_client_id"] == to_client_id else None
        move = await conn.fetchrow(
            """INSERT INTO directory.number_moves
                   (id, phone_number_id, phone_number, from_client_id, to_client_id, from_free_quota)
               VALUES ($1, $2, $3, $4, $5, $6)
               RETURNING id, phone_number_id, phone_number, from_client_id, to_client_id, moved_at""",
            uuid.uuid4(),
            phone_number_id,
            number["phone_number"],
            number["client_id"],
            to_client_id,
            number["free_quota"],
        )
        await conn.execute(
            """UPDATE directory.numbers SET client_id = $2, free_quota = COALESCE($3, free_quota),
                      display_name = COALESCE($4, display_name), waba_id = COALESCE($5, waba_id)
                WHERE phone_number_id = $1""",
            phone_number_id,
            to_client_id,
            free_quota,
            display_name,
            waba_id,
        )
    return Move(**dict(move))

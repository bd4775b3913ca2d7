"""A client's numbers: a number belongs to one client at a time.

Adding a number another client holds is refused: a number changes owner only through
:func:`directory.moves.move_number`, which records the move (and ``directory.admin move-number`` announces it).
"""

from __future__ import annotations

import uuid

import asyncpg

from shared.graph.phone_numbers import PhoneNumberInfo
from shared.logging import mask_phone
from shared.phones import to_e164


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
    claim: bool = False,
) -> uuid.UUID:
    """Put a number under a client, or update it there (idempotent). A number another client holds is refused.
    ``claim``: onboarding found the number — a new row is ``status``, an existing one of the client keeps its status,
    name and quota (a suspended number being signed up again stays suspended until read back)."""
    e164 = to_e164(phone_number)
    try:
        async with conn.transaction():  # a savepoint inside the caller's transaction: a refusal leaves it usable
            number_id = await conn.fetchval(
                """INSERT INTO directory.numbers
                       (id, client_id, phone_number, phone_number_id, waba_id, display_name, status, free_quota)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (phone_number_id) DO UPDATE SET phone_number = EXCLUDED.phone_number,
                       waba_id = EXCLUDED.waba_id,
                       display_name = CASE WHEN $9 THEN directory.numbers.display_name ELSE EXCLUDED.display_name END,
                       status = CASE WHEN $9 THEN directory.numbers.status ELSE EXCLUDED.status END,
                       free_quota = CASE WHEN $9 THEN directory.numbers.free_quota ELSE EXCLUDED.free_quota END
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
                claim,
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


async def number_for_update(
    conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str
) -> asyncpg.Record | None:
    """The client's number, locked until the transaction ends; ``None`` when the client has no such number."""
    return await conn.fetchrow(
        """SELECT phone_number, phone_number_id, waba_id, display_name, status, suspended_reason FROM directory.numbers
            WHERE client_id = $1 AND phone_number_id = $2 FOR UPDATE""",
        client_id,
        phone_number_id,
    )


async def set_status(conn: asyncpg.Connection, phone_number_id: str, status: str) -> None:
    await conn.execute(
        "UPDATE directory.numbers SET status = $2, suspended_reason = CASE WHEN $2 = 'suspended' THEN "
        "COALESCE(suspended_reason, 'operator') END WHERE phone_number_id = $1",
        phone_number_id,
        status,
    )


async def holder(conn: asyncpg.Connection, e164: str) -> uuid.UUID | None:
    """The client that holds this phone number in the directory, if any."""
    held = await conn.fetchval("SELECT client_id FROM directory.numbers WHERE phone_number = $1", e164)
    return uuid.UUID(str(held)) if held is not None else None


async def record_read_back(
    conn: asyncpg.Connection, phone_number_id: str, info: PhoneNumberInfo, *, coexistence: bool
) -> asyncpg.Record:
    """What Meta said of the number (``GET /{phone_number_id}``), and the number active from now on."""
    row = await conn.fetchrow(
        """UPDATE directory.numbers
              SET verified_name = $2, name_status = $3, quality_rating = $4, platform_type = $5,
                  throughput_level = $6, coexistence = $7, read_back_at = now(), status = 'active',
                  suspended_reason = NULL, display_name = COALESCE(NULLIF(display_name, ''), $2)
            WHERE phone_number_id = $1
        RETURNING client_id, phone_number, phone_number_id, waba_id, display_name""",
        phone_number_id,
        info.verified_name,
        info.name_status,
        info.quality_rating,
        info.platform_type,
        info.throughput.level,
        coexistence,
    )
    if row is None:
        raise NotInDirectory(f"phone_number_id {phone_number_id} is not in the directory")
    return row


async def suspend(conn: asyncpg.Connection, phone_number_id: str, reason: str) -> None:
    await conn.execute(
        "UPDATE directory.numbers SET status = 'suspended', suspended_reason = $2 WHERE phone_number_id = $1",
        phone_number_id,
        reason,
    )


async def release(conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str) -> None:
    """An onboarding failed: the number it claimed is free again — gone when it never answered (never read back),
    suspended again when it was being signed up anew."""
    await conn.execute(
        """DELETE FROM directory.numbers
            WHERE phone_number_id = $1 AND client_id = $2 AND status = 'pending' AND read_back_at IS NULL""",
        phone_number_id,
        client_id,
    )

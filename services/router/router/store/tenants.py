"""Which client a webhook's number, display phone number or WABA belongs to, read from the directory's views."""

from __future__ import annotations

import uuid

import asyncpg


async def client_for_number(conn: asyncpg.Connection, phone_number_id: str) -> uuid.UUID | None:
    value = await conn.fetchval(
        "SELECT client_id FROM directory_read.numbers WHERE phone_number_id = $1", phone_number_id
    )
    return value if isinstance(value, uuid.UUID) else None


async def clients_for_numbers(conn: asyncpg.Connection, phone_number_ids: set[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch(
        "SELECT phone_number_id, client_id FROM directory_read.numbers WHERE phone_number_id = ANY($1::text[])",
        list(phone_number_ids),
    )
    return {r["phone_number_id"]: r["client_id"] for r in rows}


async def number_by_phone(conn: asyncpg.Connection, phone_number: str) -> tuple[uuid.UUID, str] | None:
    row = await conn.fetchrow(
        "SELECT client_id, phone_number_id FROM directory_read.numbers WHERE phone_number = $1", phone_number
    )
    return (row["client_id"], row["phone_number_id"]) if row else None


async def client_for_waba(conn: asyncpg.Connection, waba_id: str) -> uuid.UUID | None:
    """The WABA's client when every number under it belongs to one client (else the event has no tenant)."""
    rows = await conn.fetch("SELECT DISTINCT client_id FROM directory_read.numbers WHERE waba_id = $1", waba_id)
    return rows[0]["client_id"] if len(rows) == 1 else None

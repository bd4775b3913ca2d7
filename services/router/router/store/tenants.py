"""Which client a webhook's number, display phone number or WABA belongs to, read from the directory's views.

Only an ``active`` number is routed; a number the directory holds but that is ``pending`` or ``suspended`` is
*waiting*: what comes for it is parked with that reason and handed back on ``number.activated``
(:mod:`router.activation`). A number the directory does not hold is unknown, as before onboarding existed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import asyncpg

UNKNOWN_NUMBER = "unknown phone_number_id"
# Reasons of parts parked for a number that is in the directory but not active, by the number's status.
WAITING = {"pending": "number_pending", "suspended": "number_suspended"}
# What ``number.activated`` hands back: everything that waited only for its number.
AWAITING_ACTIVATION = (UNKNOWN_NUMBER, *WAITING.values())


@dataclass(frozen=True)
class Numbers:
    """The numbers of one batch as the directory holds them now."""

    active: dict[str, uuid.UUID] = field(default_factory=dict)
    # phone_number_id → (its client, the parking reason its status gives)
    waiting: dict[str, tuple[uuid.UUID, str]] = field(default_factory=dict)

    @property
    def held(self) -> set[str]:
        """The numbers the directory holds, active or not."""
        return {*self.active, *self.waiting}

    def reason(self, phone_number_id: str) -> str:
        """Why a part for this number is not routed (it is not active)."""
        waiting = self.waiting.get(phone_number_id)
        return waiting[1] if waiting else UNKNOWN_NUMBER


async def numbers(conn: asyncpg.Connection, phone_number_ids: set[str]) -> Numbers:
    rows = await conn.fetch(
        "SELECT phone_number_id, client_id, status FROM directory_read.numbers WHERE phone_number_id = ANY($1::text[])",
        list(phone_number_ids),
    )
    resolved = Numbers()
    for r in rows:
        if r["status"] == "active":
            resolved.active[r["phone_number_id"]] = r["client_id"]
        else:  # a status the directory adds later waits too, rather than being routed unseen
            reason = WAITING.get(r["status"], f"number_{r['status']}")
            resolved.waiting[r["phone_number_id"]] = (r["client_id"], reason)
    return resolved


async def status_of(conn: asyncpg.Connection, phone_number_id: str) -> str | None:
    """The number's status in the directory; None when the directory does not hold it."""
    value = await conn.fetchval("SELECT status FROM directory_read.numbers WHERE phone_number_id = $1", phone_number_id)
    return str(value) if value is not None else None


async def number_by_phone(conn: asyncpg.Connection, phone_number: str) -> tuple[uuid.UUID, str] | None:
    row = await conn.fetchrow(
        "SELECT client_id, phone_number_id FROM directory_read.numbers WHERE phone_number = $1", phone_number
    )
    return (row["client_id"], row["phone_number_id"]) if row else None


async def client_for_waba(conn: asyncpg.Connection, waba_id: str) -> uuid.UUID | None:
    """The WABA's client when every number under it belongs to one client (else the event has no tenant)."""
    rows = await conn.fetch("SELECT DISTINCT client_id FROM directory_read.numbers WHERE waba_id = $1", waba_id)
    return rows[0]["client_id"] if len(rows) == 1 else None

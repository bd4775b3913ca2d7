"""Which client a webhook's number, display phone number or WABA belongs to, read from the directory's views.

Only an ``active`` number is routed; a number the directory holds but that is ``pending`` or ``suspended`` is
*waiting*: what comes for it is parked with that reason and handed back on ``number.activated``
(:mod:`router.activation`). A number the directory does not hold is unknown, as before onboarding existed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

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


async def numbers(conn: asyncpg.Connection, phone_number_ids: set[str], memo: dict[str, Any] | None = None) -> Numbers:
    """The directory's word on these numbers. With ``memo`` (a batch transaction's, ``Outgoing.memo``) a number is
    looked up once per transaction: a batch's webhooks are nearly all for a few numbers."""
    known: dict[str, tuple[uuid.UUID, str] | None] = memo.setdefault(_MEMO, {}) if memo is not None else {}
    missing = [pnid for pnid in phone_number_ids if pnid not in known]
    if missing:
        rows = await conn.fetch(
            "SELECT phone_number_id, client_id, status FROM directory_read.numbers"
            " WHERE phone_number_id = ANY($1::text[])",
            missing,
        )
        known.update(dict.fromkeys(missing))  # not in the directory: unknown, remembered too
        known.update({r["phone_number_id"]: (r["client_id"], r["status"]) for r in rows})
    resolved = Numbers()
    for pnid in phone_number_ids:
        if (held := known[pnid]) is None:
            continue
        client_id, status = held
        if status == "active":
            resolved.active[pnid] = client_id
        else:  # a status the directory adds later waits too, rather than being routed unseen
            resolved.waiting[pnid] = (client_id, WAITING.get(status, f"number_{status}"))
    return resolved


_MEMO = "router.numbers"


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

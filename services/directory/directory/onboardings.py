"""The stored onboardings (``directory.onboardings``): one attempt to connect a number to a client, and its step.

A number has at most one onboarding that has not failed (a unique index): of two registrations at once, one
inserts and the other finds it. The state machine that moves an onboarding along is ``directory.onboarding``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.contracts.directory import MetaFailure, NumberOnboardingChanged, NumberRegister

_COLUMNS = "id, client_id, phone_number, state, step, phone_number_id, waba_id, last_error"


@dataclass(frozen=True)
class Onboarding:
    id: uuid.UUID
    client_id: uuid.UUID
    phone_number: str
    state: Any  # OnboardingState, checked by the table and by the event's model
    step: str
    phone_number_id: str | None
    waba_id: str | None
    last_error: dict[str, Any] | None

    def changed(self) -> NumberOnboardingChanged:
        """The onboarding as ``number.onboarding_changed`` tells it."""
        return NumberOnboardingChanged(
            onboarding_id=self.id,
            client_id=self.client_id,
            phone_number=self.phone_number,
            state=self.state,
            step=self.step,
            phone_number_id=self.phone_number_id,
            waba_id=self.waba_id,
            error=MetaFailure.model_validate(self.last_error) if self.last_error else None,
        )


def _onboarding(row: asyncpg.Record | None) -> Onboarding | None:
    return Onboarding(**dict(row)) if row is not None else None


async def open_onboarding(conn: asyncpg.Connection, command: NumberRegister, e164: str) -> Onboarding | None:
    """A new onboarding in state ``pending``; ``None`` when its id or a live one for the number exists already."""
    row = await conn.fetchrow(
        f"""INSERT INTO directory.onboardings (id, client_id, phone_number, display_name, method, coexistence)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}""",  # noqa: S608
        command.onboarding_id,
        command.client_id,
        e164,
        command.display_name,
        command.method,
        command.coexistence,
    )
    return _onboarding(row)


async def by_id(conn: asyncpg.Connection, onboarding_id: uuid.UUID) -> Onboarding | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM directory.onboardings WHERE id = $1", onboarding_id)  # noqa: S608
    return _onboarding(row)


async def live_for_number(conn: asyncpg.Connection, e164: str) -> Onboarding | None:
    """The number's onboarding that has not failed, if any."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM directory.onboardings WHERE phone_number = $1 AND state <> 'failed'",  # noqa: S608
        e164,
    )
    return _onboarding(row)

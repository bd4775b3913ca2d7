"""The stored onboardings (``directory.onboardings``): one attempt to connect a number to a client, and its step.

A number has at most one onboarding that has not failed (a unique index): of two registrations at once, one
inserts and the other finds it. Every change bumps ``version`` (the step messages name the version they are for);
``step_input`` keeps what the next Meta call needs from the client's command until that call is made. The state
machine that decides the changes is :mod:`directory.onboarding.machine`; :mod:`directory.onboarding.driver` runs it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from directory.onboarding.steps import Progress, Step, Wait
from shared.contracts.directory import MetaFailure, NumberOnboardingChanged, NumberRegister

_COLUMNS = (
    "id, client_id, phone_number, display_name, method, coexistence, state, step, phone_number_id, waba_id, "
    "business_id, last_error, attempts, version, step_input, suspended_reason, updated_at"
)


@dataclass(frozen=True)
class Onboarding:
    id: uuid.UUID
    client_id: uuid.UUID
    phone_number: str
    display_name: str | None
    method: Any  # Method: 'signup' | 'manual', checked by the table
    coexistence: bool
    state: Any  # OnboardingState, checked by the table and by the event's model
    step: str
    phone_number_id: str | None
    waba_id: str | None
    business_id: str | None
    last_error: dict[str, Any] | None
    attempts: int
    version: int
    step_input: dict[str, Any] | None
    suspended_reason: str | None
    updated_at: datetime | None = None

    @property
    def progress(self) -> Progress:
        """What the state machine needs of it."""
        step: Step | Wait = Step(self.step) if self.step in Step._value2member_map_ else Wait(self.step)
        error = MetaFailure.model_validate(self.last_error) if self.last_error else None
        return Progress(
            self.state,
            step,
            self.method,
            self.coexistence,
            self.phone_number_id,
            error,
            self.suspended_reason,
        )

    def changed(self, signup_url: str | None = None, expires_at: datetime | None = None) -> NumberOnboardingChanged:
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
            signup_url=signup_url,
            signup_link_expires_at=expires_at,
        )


def _onboarding(row: asyncpg.Record | None) -> Onboarding | None:
    if row is None:
        return None
    values = dict(row)
    for field in ("last_error", "step_input"):
        if isinstance(values[field], str):
            values[field] = json.loads(values[field])
    return Onboarding(**values)


async def _serialise(conn: asyncpg.Connection, onboarding_id: uuid.UUID) -> None:
    """One writer of an onboarding at a time, until the transaction ends — also before its row exists: a step
    sent while number.register's insert is not committed yet waits for it here (a row lock could not: the
    uncommitted row is invisible, not locked)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))", str(onboarding_id))


async def open_onboarding(
    conn: asyncpg.Connection, command: NumberRegister, e164: str, start: Progress
) -> Onboarding | None:
    """A new onboarding at the machine's start; ``None`` when its id or a live one for the number exists already."""
    await _serialise(conn, command.onboarding_id)
    row = await conn.fetchrow(
        f"""INSERT INTO directory.onboardings
                (id, client_id, phone_number, display_name, method, coexistence, state, step)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}""",  # noqa: S608
        command.onboarding_id,
        command.client_id,
        e164,
        command.display_name,
        command.method,
        command.coexistence,
        start.state,
        str(start.step),
    )
    return _onboarding(row)


async def by_id(conn: asyncpg.Connection, onboarding_id: uuid.UUID) -> Onboarding | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM directory.onboardings WHERE id = $1", onboarding_id)  # noqa: S608
    return _onboarding(row)


async def for_update(conn: asyncpg.Connection, onboarding_id: uuid.UUID) -> Onboarding | None:
    """The onboarding, locked until the transaction ends: its changes are serialised (two commands at once, a step
    and a command, a step and its duplicate)."""
    await _serialise(conn, onboarding_id)
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM directory.onboardings WHERE id = $1 FOR UPDATE",  # noqa: S608
        onboarding_id,
    )
    return _onboarding(row)


async def live_for_number(conn: asyncpg.Connection, e164: str) -> Onboarding | None:
    """The number's onboarding that has not failed, if any."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM directory.onboardings WHERE phone_number = $1 AND state <> 'failed'",  # noqa: S608
        e164,
    )
    return _onboarding(row)


async def of_number_for_update(conn: asyncpg.Connection, phone_number_id: str) -> Onboarding | None:
    """The live onboarding that connected ``phone_number_id``, locked (suspend, resume, reauthorization)."""
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM directory.onboardings WHERE phone_number_id = $1 AND state <> 'failed'
             ORDER BY created_at DESC LIMIT 1 FOR UPDATE""",  # noqa: S608
        phone_number_id,
    )
    return _onboarding(row)


async def save(
    conn: asyncpg.Connection,
    onboarding: Onboarding,
    progress: Progress,
    *,
    step_input: dict[str, Any] | None = None,
    keep_input: bool = False,
    **columns: Any,
) -> Onboarding:
    """Store ``progress`` (and the given columns: waba_id, business_id, …) as the onboarding's next version.
    ``attempts`` restarts when the step changes; ``step_input`` is replaced (kept with ``keep_input``)."""
    attempts = columns.pop("attempts", 0 if str(progress.step) != onboarding.step else onboarding.attempts)
    error = progress.error.model_dump() if progress.error else None
    new_input = onboarding.step_input if keep_input else step_input
    updated = replace(
        onboarding,
        state=progress.state,
        step=str(progress.step),
        phone_number_id=progress.phone_number_id or columns.pop("phone_number_id", onboarding.phone_number_id),
        last_error=error,
        suspended_reason=progress.suspended_reason,
        attempts=attempts,
        version=onboarding.version + 1,
        step_input=new_input,
        **columns,
    )
    await conn.execute(
        """UPDATE directory.onboardings
              SET state = $2, step = $3, phone_number_id = $4, waba_id = $5, business_id = $6, last_error = $7,
                  suspended_reason = $8, attempts = $9, version = $10, step_input = $11, updated_at = now()
            WHERE id = $1""",
        updated.id,
        updated.state,
        updated.step,
        updated.phone_number_id,
        updated.waba_id,
        updated.business_id,
        updated.last_error,  # jsonb: the pool's codec encodes (shared.db)
        updated.suspended_reason,
        updated.attempts,
        updated.version,
        updated.step_input,
    )
    return updated


async def stuck(conn: asyncpg.Connection, older_than_s: float, limit: int = 100) -> list[Onboarding]:
    """Onboardings at a Meta call that has not moved for ``older_than_s`` (their step message lost or dead)."""
    steps = [str(s) for s in Step]
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM directory.onboardings
             WHERE state NOT IN ('active', 'failed', 'suspended') AND step = ANY($1::text[])
               AND updated_at < now() - make_interval(secs => $2)
             ORDER BY updated_at LIMIT $3""",  # noqa: S608
        steps,
        older_than_s,
        limit,
    )
    return [o for o in map(_onboarding, rows) if o is not None]


async def client_name(conn: asyncpg.Connection, client_id: uuid.UUID) -> str:
    return str(await conn.fetchval("SELECT name FROM directory.clients WHERE id = $1", client_id) or "")

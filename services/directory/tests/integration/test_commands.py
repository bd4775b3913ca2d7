"""Each of the directory's commands through its handlers (the Deps of its own ``bootstrap()``): the success path,
each rejection, and that a command counts once per envelope id — redelivered, or twice at the same moment."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from directory.answers import Deps
from directory.handlers import (
    create_client,
    move_number,
    resume_number,
    suspend_number,
    update_client,
)
from directory.onboarding.commands import register_number
from shared.contracts.directory import (
    ClientCreate,
    ClientUpdate,
    NumberMove,
    NumberRegister,
    NumberResume,
    NumberSuspend,
)
from shared.contracts.envelope import Envelope, Payload, wrap
from tests.support.broker import Tap
from tests.support.tenants import Tenant, random_phone_number


def command(data: Payload) -> Envelope[Any]:
    return wrap(data, correlation_id=f"c-{uuid.uuid4().hex[:8]}")


def old_command(data: Payload) -> Envelope[Any]:
    """A command old enough that a client it names and the directory lacks is missing, not merely not stored yet
    (a younger one is retried: the client.create before it may still be in hand)."""
    return wrap(data, correlation_id=f"c-{uuid.uuid4().hex[:8]}", occurred_at=datetime.now(UTC) - timedelta(minutes=1))


def answers(tap: Tap, cause: Envelope[Any]) -> list[dict[str, Any]]:
    return [m for m in tap.messages if m["type"] != cause.type and m["correlation_id"] == cause.correlation_id]


def rejected(tap: Tap, cause: Envelope[Any]) -> dict[str, Any]:
    (answer,) = [m for m in answers(tap, cause) if m["type"] == "command.rejected"]
    assert answer["data"]["command_id"] == str(cause.id) and answer["data"]["command_type"] == cause.type
    return dict(answer["data"])


async def new_client(deps: Deps, **fields: Any) -> uuid.UUID:
    client_id = uuid.uuid4()
    await create_client(command(ClientCreate(client_id=client_id, name="Ferretería Sol", **fields)), deps)
    return client_id


async def test_a_client_is_created_once_however_often_the_command_is_delivered(deps: Deps, tap: Tap) -> None:
    create = command(ClientCreate(client_id=uuid.uuid4(), name="Ferretería Sol", language="es-CO", free_quota=250))
    await create_client(create, deps)
    await create_client(create, deps)
    await tap.drained()

    (created,) = answers(tap, create)
    assert created["type"] == "client.created" and created["tenant_id"] == str(create.data.client_id)
    assert created["data"]["free_quota"] == 250 and created["data"]["language"] == "es-CO"
    row = await deps.pool.fetchrow("SELECT * FROM directory.clients WHERE id = $1", create.data.client_id)
    assert row is not None and row["free_quota"] == 250 and row["language"] == "es-CO"


async def test_creating_an_existing_client_again_is_answered_and_other_content_is_a_conflict(
    deps: Deps, tap: Tap
) -> None:
    client_id = await new_client(deps)
    again = command(ClientCreate(client_id=client_id, name="Ferretería Sol"))
    other = command(ClientCreate(client_id=client_id, name="Otra Ferretería"))
    await create_client(again, deps)
    await create_client(other, deps)
    await tap.drained()

    assert [m["type"] for m in answers(tap, again)] == ["client.created"]
    assert rejected(tap, other)["reason"] == "conflict"
    assert await deps.pool.fetchval("SELECT name FROM directory.clients WHERE id = $1", client_id) == "Ferretería Sol"


async def test_an_update_changes_what_it_gives_and_an_unknown_client_is_not_found(deps: Deps, tap: Tap) -> None:
    client_id = await new_client(deps)
    update = command(ClientUpdate(client_id=client_id, name="Ferretería Sol", timezone="America/Lima", free_quota=5))
    unknown = old_command(ClientUpdate(client_id=uuid.uuid4(), name="Nadie"))
    await update_client(update, deps)
    await update_client(unknown, deps)
    await tap.drained()

    (updated,) = answers(tap, update)
    assert updated["data"]["changed"] == ["free_quota", "timezone"] and updated["data"]["timezone"] == "America/Lima"
    assert rejected(tap, unknown)["reason"] == "not_found"


async def onboarding_rows(pool: asyncpg.Pool, phone_number: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM directory.onboardings WHERE phone_number = $1", phone_number)


async def test_registering_a_number_opens_one_pending_onboarding_and_again_answers_it_again(
    deps: Deps, tap: Tap
) -> None:
    client_id, e164 = await new_client(deps), random_phone_number()
    register = command(NumberRegister(onboarding_id=uuid.uuid4(), client_id=client_id, phone_number=e164))
    again = command(register.data.model_copy(update={"onboarding_id": uuid.uuid4()}))
    await register_number(register, deps)
    await register_number(again, deps)
    await tap.drained()

    (row,) = await onboarding_rows(deps.pool, e164)
    assert row["id"] == register.data.onboarding_id and row["state"] == "pending" and row["method"] == "signup"
    for cause in (register, again):
        (changed,) = answers(tap, cause)
        assert changed["type"] == "number.onboarding_changed"
        assert changed["data"]["onboarding_id"] == str(register.data.onboarding_id)
        assert changed["data"]["state"] == "pending" and changed["data"]["phone_number"] == e164


async def test_a_number_is_refused_when_invalid_unknown_client_or_another_client_s(
    deps: Deps, tap: Tap, tenant: Tenant
) -> None:
    client_id = await new_client(deps)
    invalid = command(NumberRegister(onboarding_id=uuid.uuid4(), client_id=client_id, phone_number="+57 12"))
    nobody = old_command(
        NumberRegister(onboarding_id=uuid.uuid4(), client_id=uuid.uuid4(), phone_number="+573001234567")
    )
    held = command(NumberRegister(onboarding_id=uuid.uuid4(), client_id=client_id, phone_number=tenant.phone_number))
    for cause in (invalid, nobody, held):
        await register_number(cause, deps)
    await tap.drained()

    assert rejected(tap, invalid)["reason"] == "invalid" and "+57 12" in rejected(tap, invalid)["message"]
    assert rejected(tap, nobody)["reason"] == "not_found"
    assert rejected(tap, held)["reason"] == "conflict"
    assert await onboarding_rows(deps.pool, tenant.phone_number) == []


async def test_two_clients_registering_one_number_at_once_one_gets_it(deps: Deps, tap: Tap) -> None:
    first, second, e164 = await new_client(deps), await new_client(deps), random_phone_number()
    causes = [
        command(NumberRegister(onboarding_id=uuid.uuid4(), client_id=client, phone_number=e164))
        for client in (first, second)
    ]
    same = causes[0]
    await asyncio.gather(*(register_number(c, deps) for c in (*causes, same, same)))
    await tap.drained()

    (row,) = await onboarding_rows(deps.pool, e164)
    winner = next(c for c in causes if c.data.client_id == row["client_id"])
    loser = next(c for c in causes if c is not winner)
    assert [m["type"] for m in answers(tap, winner)] == ["number.onboarding_changed"]
    assert rejected(tap, loser)["reason"] == "conflict"


async def test_suspend_and_resume_set_the_status_and_say_so(deps: Deps, tap: Tap, tenant: Tenant) -> None:
    suspend = command(NumberSuspend(client_id=tenant.client_id, phone_number_id=tenant.phone_number_id))
    resume = command(NumberResume(client_id=tenant.client_id, phone_number_id=tenant.phone_number_id))
    elsewhere = command(NumberSuspend(client_id=uuid.uuid4(), phone_number_id=tenant.phone_number_id))
    status = "SELECT status FROM directory.numbers WHERE phone_number_id = $1"

    await suspend_number(suspend, deps)
    assert await deps.pool.fetchval(status, tenant.phone_number_id) == "suspended"
    await resume_number(resume, deps)
    await suspend_number(elsewhere, deps)
    await tap.drained()

    assert await deps.pool.fetchval(status, tenant.phone_number_id) == "active"
    (suspended,) = answers(tap, suspend)
    assert suspended["type"] == "number.suspended" and suspended["data"]["reason"] == "operator"
    (activated,) = answers(tap, resume)
    assert activated["type"] == "number.activated" and activated["data"]["phone_number"] == tenant.phone_number
    assert rejected(tap, elsewhere)["reason"] == "not_found"


async def test_number_move_moves_as_the_operator_command_does(
    deps: Deps, tap: Tap, tenant: Tenant, make_tenant: Any
) -> None:
    to = await make_tenant()
    move = command(NumberMove(phone_number_id=tenant.phone_number_id, to_client_id=to.client_id))
    await move_number(move, deps)
    await move_number(move, deps)
    missing = command(NumberMove(phone_number_id="999", to_client_id=to.client_id))
    await move_number(missing, deps)
    await tap.drained()

    (moved,) = tap.of_type("number.moved")
    assert moved["data"]["from_client_id"] == str(tenant.client_id) and moved["tenant_id"] == str(to.client_id)
    assert rejected(tap, missing)["reason"] == "not_found"

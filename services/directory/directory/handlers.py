"""The directory's handlers: the CRM's commands carried out, each answered by an event or ``command.rejected``.

Every handler is :func:`directory.answers.once_per_envelope`: one transaction with the envelope's inbox record,
rows locked (``FOR UPDATE``, ``ON CONFLICT``) so two identical commands at once change state once.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from directory import clients, moves, numbers, onboardings
from directory.answers import Deps, Refused, answer, once_per_envelope
from directory.onboarding import driver
from directory.onboarding.commands import young_enough_to_wait
from directory.onboarding.machine import REAUTHORIZE
from directory.onboarding.steps import Resume, Suspend
from shared.contracts.directory import (
    ClientCreate,
    ClientCreated,
    ClientUpdate,
    ClientUpdated,
    NumberActivated,
    NumberMove,
    NumberResume,
    NumberSuspend,
    NumberSuspended,
)
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.prompting import personality_text

log = get_logger(__name__)


def _client(client_id: uuid.UUID, profile: dict[str, Any]) -> dict[str, Any]:
    """The fields ``client.created`` / ``client.updated`` carry (never the personality: it can be long)."""
    return {"client_id": client_id, **{k: profile[k] for k in ClientCreated.model_fields if k in profile}}


@once_per_envelope
async def create_client(envelope: Envelope[ClientCreate], deps: Deps, conn: asyncpg.Connection) -> None:
    """Create the client; the same client created again is answered again and changes nothing."""
    command = envelope.data
    profile = command.model_dump(include=set(clients.PROFILE))
    form = command.profile.model_dump() if command.profile is not None else None
    if form is not None:
        profile["personality"] = personality_text(form)
    key = bytes.fromhex(command.api_key_sha256) if command.api_key_sha256 else None
    if await clients.create_client(conn, command.client_id, profile, key):
        if profile["personality"]:
            await clients.record_personality(
                conn,
                command.client_id,
                personality=profile["personality"],
                profile=form,
                language=profile["language"],
                changed_by="created",
            )
    else:
        existing = await clients.client_for_update(conn, command.client_id)
        assert existing is not None  # rows of directory.clients are never deleted
        differing = sorted(f for f in clients.PROFILE if existing[f] != profile[f])
        if key is not None and existing["api_key_hash"] != key:
            differing.append("api_key_sha256")
        if differing:
            raise Refused(
                "conflict",
                f"client {command.client_id} exists with another {', '.join(differing)}: send client.update",
            )
    await answer(deps, envelope, ClientCreated.model_validate(_client(command.client_id, profile)), command.client_id)


@once_per_envelope
async def update_client(envelope: Envelope[ClientUpdate], deps: Deps, conn: asyncpg.Connection) -> None:
    command = envelope.data
    existing = await clients.client_for_update(conn, command.client_id)
    if existing is None:
        young_enough_to_wait(envelope, f"client {command.client_id} is not stored yet")
        raise Refused("not_found", f"client {command.client_id} does not exist: send client.create first")
    given = command.model_dump(include=set(clients.PROFILE) & command.model_fields_set, exclude_none=True)
    form = command.profile.model_dump() if command.profile is not None else None
    if form is not None:
        given["personality"] = personality_text(form)
    changes = {field: value for field, value in given.items() if existing[field] != value}
    new_form = form is not None and form != existing["personality_profile"]
    version = existing["personality_version"]
    if "personality" in changes or new_form:
        text = changes.pop("personality", existing["personality"])
        language = changes.get("language", existing["language"])
        version = await clients.record_personality(
            conn, command.client_id, personality=text, profile=form, language=language, changed_by=command.changed_by
        )
        changes["personality"] = text
    await clients.update_client(conn, command.client_id, {k: v for k, v in changes.items() if k != "personality"})
    now = {**existing, **changes}
    event = ClientUpdated.model_validate(
        {**_client(command.client_id, now), "changed": tuple(sorted(changes)), "personality_version": version}
    )
    await answer(deps, envelope, event, command.client_id)


@once_per_envelope
async def suspend_number(envelope: Envelope[NumberSuspend], deps: Deps, conn: asyncpg.Connection) -> None:
    command = envelope.data
    number = await _number(conn, command.client_id, command.phone_number_id)
    if number["status"] == "pending":
        raise Refused("invalid", f"number {command.phone_number_id} is still onboarding: nothing answers on it yet")
    await numbers.suspend(conn, command.phone_number_id, command.reason)
    onboarding = await onboardings.of_number_for_update(conn, command.phone_number_id)
    if onboarding is not None and onboarding.state == "active":
        await driver.apply(deps, conn, onboarding, Suspend(command.reason), envelope.correlation_id)
    event = NumberSuspended(client_id=command.client_id, phone_number_id=command.phone_number_id, reason=command.reason)
    await answer(deps, envelope, event, command.client_id)


@once_per_envelope
async def resume_number(envelope: Envelope[NumberResume], deps: Deps, conn: asyncpg.Connection) -> None:
    """Active again: ``number.activated``, and the router hands back what waited for the number."""
    command = envelope.data
    number = await _number(conn, command.client_id, command.phone_number_id)
    if number["status"] == "pending":
        raise Refused("invalid", f"number {command.phone_number_id} is still onboarding: it activates when done")
    if number["suspended_reason"] == REAUTHORIZE:
        raise Refused("invalid", "the number's token was revoked: the client must go through the signup again")
    await numbers.set_status(conn, command.phone_number_id, "active")
    onboarding = await onboardings.of_number_for_update(conn, command.phone_number_id)
    if onboarding is not None and onboarding.state == "suspended":
        await driver.apply(deps, conn, onboarding, Resume(), envelope.correlation_id)
    event = NumberActivated(
        client_id=command.client_id,
        phone_number_id=command.phone_number_id,
        phone_number=number["phone_number"],
        waba_id=number["waba_id"],
        display_name=number["display_name"],
    )
    await answer(deps, envelope, event, command.client_id)


@once_per_envelope
async def move_number(envelope: Envelope[NumberMove], deps: Deps, conn: asyncpg.Connection) -> None:
    """As ``directory.admin move-number``: the same recorded move, announced with the move's own id."""
    command = envelope.data
    try:
        moved = await moves.move_number(conn, **command.model_dump())
    except numbers.NotInDirectory as exc:
        raise Refused("not_found", str(exc)) from exc
    if moved is None:
        raise Refused("invalid", f"client {command.to_client_id} holds {command.phone_number_id} already")
    announcement = moves.number_moved(moved)
    await deps.publisher.publish(announcement)


async def _number(conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str) -> asyncpg.Record:
    number = await numbers.number_for_update(conn, client_id, phone_number_id)
    if number is None:
        raise Refused("not_found", f"client {client_id} has no number {phone_number_id}")
    return number

"""The onboarding's commands: ``number.register``, ``number.request_code``, ``number.verify_code``,
``number.complete_signup``, ``number.renew_link``, and Meta's refusal of a number's token (``number.token_rejected``).

Each is :func:`directory.answers.once_per_envelope` and locks the onboarding, so two identical commands at once
change it once; an input the state machine refuses is answered by ``command.rejected`` (one that will be allowed
shortly, such as a code asked for while the number is still being added, is retried instead).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import SecretStr

from directory import clients, credentials, links, numbers, onboardings
from directory.answers import Deps, Refused, answer, once_per_envelope
from directory.onboarding import driver, machine
from directory.onboarding.calls import given_pin_subject
from directory.onboarding.steps import CompleteSignup, Input, RequestCode, Suspend, VerifyCode
from directory.onboarding.steps import Refused as NotNow
from directory.onboardings import Onboarding
from shared import signup_links
from shared.contracts.directory import (
    NumberCompleteSignup,
    NumberRegister,
    NumberRenewLink,
    NumberRequestCode,
    NumberSuspended,
    NumberTokenRejected,
    NumberVerifyCode,
)
from shared.contracts.envelope import Envelope
from shared.logging import get_logger, mask_phone
from shared.messaging.consumer import Retry
from shared.phones import InvalidPhoneNumber, to_e164

log = get_logger(__name__)


# A command about a client (or onboarding) created by a command published just before it may be handled first: the
# consumer handles deliveries concurrently. Until it is this old, a missing client is waited for, not refused.
YOUNG_S = 10.0


def young_enough_to_wait(envelope: Envelope[Any], why: str) -> None:
    if (datetime.now(UTC) - envelope.occurred_at).total_seconds() < YOUNG_S:
        raise Retry(why, delay_s=1)


def _advance_or_refuse(onboarding: Onboarding, event: Input) -> None:
    """The machine's refusal of a command, as the command's answer (or a retry when it will be allowed soon)."""
    try:
        machine.advance(onboarding.progress, event)
    except NotNow as refusal:
        if refusal.retry_later:
            raise Retry(str(refusal), delay_s=5) from None
        raise Refused("invalid", str(refusal)) from None


async def _locked(conn: asyncpg.Connection, onboarding_id: uuid.UUID, envelope: Envelope[Any]) -> Onboarding:
    onboarding = await onboardings.for_update(conn, onboarding_id)
    if onboarding is None:
        young_enough_to_wait(envelope, f"onboarding {onboarding_id} is not stored yet")
        raise Refused("not_found", f"onboarding {onboarding_id} does not exist: send number.register first")
    return onboarding


@once_per_envelope
async def register_number(envelope: Envelope[NumberRegister], deps: Deps, conn: asyncpg.Connection) -> None:
    """Open the number's onboarding; a number another client holds or is connecting is refused, never reassigned.
    The signup method gets its link (the QR code); the manual one starts adding the number to the WABA."""
    command = envelope.data
    try:
        e164 = to_e164(command.phone_number)
        start = machine.start(command.method, command.coexistence)
    except InvalidPhoneNumber as exc:
        raise Refused("invalid", str(exc)) from exc
    except NotNow as exc:
        raise Refused("invalid", str(exc)) from exc
    if await clients.client_for_update(conn, command.client_id) is None:
        young_enough_to_wait(envelope, f"client {command.client_id} is not stored yet")
        raise Refused("not_found", f"client {command.client_id} does not exist: send client.create first")
    holder = await numbers.holder(conn, e164)
    if holder is not None and holder != command.client_id:
        raise Refused("conflict", f"{mask_phone(e164)} belongs to another client: it is never reassigned")
    opened = await onboardings.open_onboarding(conn, command, e164, start)
    if opened is None:  # this id, or a live onboarding of the number, exists already
        existing = await onboardings.by_id(conn, command.onboarding_id) or await onboardings.live_for_number(conn, e164)
        if existing is None:  # it failed meanwhile: the CRM may simply send the command again
            raise Refused("conflict", f"the onboarding of {mask_phone(e164)} changed meanwhile: try again")
        if existing.client_id != command.client_id or existing.phone_number != e164:
            raise Refused("conflict", f"{mask_phone(e164)} is being connected by another onboarding")
        link = await links.live(conn, existing.id) if existing.method == "signup" else None
        await answer(deps, envelope, existing.changed(links.url(deps.settings, link)), command.client_id)
        return
    if command.pin is not None:
        if deps.ring.current is None:
            raise Refused("invalid", "this wamux cannot keep a PIN: its operator must set WAMUX_CREDENTIAL_KEYS")
        subject = given_pin_subject(opened.id)
        await credentials.store(conn, deps.ring, "pin", subject, SecretStr(command.pin))
    if command.method == "signup":
        link = (
            signup_links.Link(command.link_id, command.link_expires_at)
            if command.link_id is not None and command.link_expires_at is not None
            else links.default_link(opened.id, deps.settings)
        )
        await links.issue(conn, opened.id, link)
    log.info("number.onboarding", state=opened.state, method=command.method, phone_number=mask_phone(e164))
    # Stored as version 1, announced (with the link), and the manual path's first call sent.
    await driver.record(deps, conn, opened, opened.progress, envelope.correlation_id)


@once_per_envelope
async def request_code(envelope: Envelope[NumberRequestCode], deps: Deps, conn: asyncpg.Connection) -> None:
    command = envelope.data
    onboarding = await _locked(conn, command.onboarding_id, envelope)
    _advance_or_refuse(onboarding, RequestCode())
    inputs = {"code_method": command.code_method, "language": command.language}
    await driver.apply(deps, conn, onboarding, RequestCode(), envelope.correlation_id, step_input=inputs)


@once_per_envelope
async def verify_code(envelope: Envelope[NumberVerifyCode], deps: Deps, conn: asyncpg.Connection) -> None:
    command = envelope.data
    onboarding = await _locked(conn, command.onboarding_id, envelope)
    _advance_or_refuse(onboarding, VerifyCode())
    await driver.apply(deps, conn, onboarding, VerifyCode(), envelope.correlation_id, step_input={"code": command.code})


@once_per_envelope
async def complete_signup(envelope: Envelope[NumberCompleteSignup], deps: Deps, conn: asyncpg.Connection) -> None:
    """What Embedded Signup handed back: the code is exchanged at once (it lives 30 seconds)."""
    command = envelope.data
    onboarding = await _locked(conn, command.onboarding_id, envelope)
    event = CompleteSignup(command.phone_number_id)
    _advance_or_refuse(onboarding, event)
    # The number is claimed only once Meta has confirmed it with the client's token (the code exchange): a
    # phone_number_id in this command is the browser's word, and anyone holding the link can send one.
    if command.link_id is not None:
        await links.use(conn, onboarding.id, command.link_id)
    columns = {"waba_id": command.waba_id, "business_id": command.business_id, "step_input": {"code": command.code}}
    await driver.apply(deps, conn, onboarding, event, envelope.correlation_id, **columns)


@once_per_envelope
async def renew_link(envelope: Envelope[NumberRenewLink], deps: Deps, conn: asyncpg.Connection) -> None:
    """A new link for an onboarding that waits for its signup (or must sign up again): the old link is revoked."""
    command = envelope.data
    onboarding = await _locked(conn, command.onboarding_id, envelope)
    waiting = onboarding.method == "signup" and (
        onboarding.step == "await_signup"
        or (onboarding.state == "suspended" and onboarding.suspended_reason == machine.REAUTHORIZE)
    )
    if not waiting:
        raise Refused("invalid", f"the onboarding is {onboarding.state} ({onboarding.step}): it needs no signup link")
    link = signup_links.Link(command.link_id, command.expires_at)
    await links.issue(conn, onboarding.id, link)
    await answer(
        deps, envelope, onboarding.changed(links.url(deps.settings, link), link.expires_at), onboarding.client_id
    )


@once_per_envelope
async def token_rejected(envelope: Envelope[NumberTokenRejected], deps: Deps, conn: asyncpg.Connection) -> None:
    """Meta refused the number's business token (190): suspended until the client signs up again."""
    event = envelope.data
    number = await numbers.number_for_update(conn, event.client_id, event.phone_number_id)
    if number is None or (number["status"] == "suspended" and number["suspended_reason"] == machine.REAUTHORIZE):
        return  # not this client's (moved meanwhile), or suspended already
    await numbers.suspend(conn, event.phone_number_id, machine.REAUTHORIZE)
    onboarding = await onboardings.of_number_for_update(conn, event.phone_number_id)
    if onboarding is not None and onboarding.state == "active":
        await driver.apply(deps, conn, onboarding, Suspend(machine.REAUTHORIZE), envelope.correlation_id)
    log.warning("number.reauthorization_needed", phone_number_id=event.phone_number_id, code=event.code)
    suspended = NumberSuspended(
        client_id=event.client_id, phone_number_id=event.phone_number_id, reason=machine.REAUTHORIZE
    )
    await answer(deps, envelope, suspended, event.client_id)

"""Runs the onboarding state machine: stores each change, announces it, and sends the next Meta call on its way.

A change is stored as the onboarding's next ``version`` and answered, before its transaction commits, with
``number.onboarding_changed`` (and ``number.activated`` on becoming active) and, when the machine names a Meta call
next, an ``onboarding.step`` message for that version — all with ids derived from the onboarding and the version,
so a transaction redone after a crash publishes the very same messages.

:func:`run_step` makes one call: it locks the onboarding, does nothing unless the onboarding is still at that step
and version (a duplicate, a stale copy, a step already made), calls Meta, and records the outcome. A retryable
failure keeps the step and schedules it again after a backoff (1 s, 5 s, 30 s, 2 min, 10 min) through the
directory's retry queues; after ``onboarding_max_attempts`` tries, or for any other failure, the machine decides
(``failed``, or back to waiting for the client's code). A crash during a call leaves the step message unacked and the
transaction undone: it is redelivered and the call made again — the onboarding resumes at that step.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from directory import links, numbers, onboardings
from directory.answers import Deps, publish_answer
from directory.onboarding import machine
from directory.onboarding.calls import MISCONFIGURED, Outcome, WamuxFailure, make
from directory.onboarding.steps import Input, Progress, Step, StepFailed, Wait
from directory.onboardings import Onboarding
from shared.contracts.directory import MetaFailure, NumberActivated, OnboardingStep
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.graph.errors import GraphError
from shared.logging import get_logger, mask_phone
from shared.messaging.broker import PublishFailed
from shared.messaging.consumer import Retry
from shared.messaging.topology import RETRY_TIERS_S
from shared.secretbox import SecretboxError

log = get_logger(__name__)
# Meta's retry-after past which a retry inside the onboarding cannot help (133016 blocks the number 72 hours).
LONGEST_WAIT_S = float(RETRY_TIERS_S[-1])


def key(onboarding: Onboarding) -> str:
    """What ids of the messages announcing this version derive from."""
    return f"{onboarding.id}:{onboarding.version}"


async def record(
    deps: Deps,
    conn: asyncpg.Connection,
    onboarding: Onboarding,
    progress: Progress,
    correlation_id: str,
    *,
    retry_in_s: float | None = None,
    number: asyncpg.Record | None = None,
    **changes: object,
) -> Onboarding:
    """Store ``progress`` as the next version and publish what it means; ``retry_in_s``: the same step again later."""
    updated = await onboardings.save(conn, onboarding, progress, **changes)  # type: ignore[arg-type]
    if updated.state == "failed" and onboarding.state != "failed" and updated.phone_number_id is not None:
        await numbers.release(conn, updated.client_id, updated.phone_number_id)  # free for the next attempt
    link = await links.live(conn, updated.id) if updated.step == Wait.SIGNUP else None
    event = updated.changed(links.url(deps.settings, link), link.expires_at if link else None)
    await publish_answer(deps.publisher, key(updated), correlation_id, event, updated.client_id)
    log.info(
        "onboarding.changed", state=updated.state, step=updated.step, phone_number=mask_phone(updated.phone_number)
    )
    if updated.state == "active" and onboarding.state != "active" and number is not None:
        activated = NumberActivated(
            client_id=updated.client_id,
            phone_number_id=number["phone_number_id"],
            phone_number=number["phone_number"],
            waba_id=number["waba_id"],
            display_name=number["display_name"],
        )
        await publish_answer(deps.publisher, key(updated), correlation_id, activated, updated.client_id)
    step = machine.next_call(updated.progress)
    if step is not None:
        message = OnboardingStep(onboarding_id=updated.id, step=str(step), version=updated.version)
        message_id = derived_id(message.TYPE, key(updated))
        envelope = wrap(message, id=message_id, tenant_id=updated.client_id, correlation_id=correlation_id)
        if retry_in_s is None:
            await deps.publisher.publish(envelope)
        else:
            await deps.publisher.publish_later(envelope, retry_in_s)
    return updated


async def apply(
    deps: Deps, conn: asyncpg.Connection, onboarding: Onboarding, event: Input, correlation_id: str, **changes: Any
) -> Onboarding:
    """A command's input to a locked onboarding: stored and announced when it changes anything."""
    progress = machine.advance(onboarding.progress, event)
    if progress == onboarding.progress and not changes:
        return onboarding  # the same command again (another envelope): already where it leads
    return await record(deps, conn, onboarding, progress, correlation_id, **changes)


# What the client or the operator can do about Meta's refusals that end an onboarding.
WHAT_TO_DO: dict[int, str] = {
    133005: "the number has a two-step verification PIN: register it again giving that PIN, or turn two-step "
    "verification off in WhatsApp Manager",
    133016: "Meta blocks registering this number for 72 hours after 10 attempts: try again after that",
    133000: "a previous deregistration is incomplete: deregister the number in WhatsApp Manager, then sign up again",
    136024: "Meta could not send the code: check the number, or ask for it by voice",
}


def failure_of(exc: GraphError | WamuxFailure) -> MetaFailure:
    if isinstance(exc, WamuxFailure):
        return MetaFailure(source="wamux", code=exc.code, message=exc.message, retryable=False)
    retryable = exc.retryable and exc.retry_after_s <= LONGEST_WAIT_S
    words = exc.title if not exc.details or exc.details in exc.title else f"{exc.title} ({exc.details})"
    if exc.subcode == 36009:
        words += " — the signup's code lives 30 seconds and serves once: sign up again"
    elif exc.code in WHAT_TO_DO:
        words += f" — {WHAT_TO_DO[exc.code]}"
    return MetaFailure(code=exc.code or 0, subcode=exc.subcode, message=words, retryable=retryable)


async def run_step(envelope: Envelope[OnboardingStep], deps: Deps) -> None:
    command = envelope.data
    async with deps.pool.acquire() as conn, conn.transaction():
        onboarding = await onboardings.for_update(conn, command.onboarding_id)
        if onboarding is None:
            # Its first step is sent as number.register inserts it: a row not committed yet is not even locked.
            raise Retry("the onboarding is not stored yet", delay_s=1)
        if onboarding.version != command.version or onboarding.step != command.step:
            log.info("onboarding.step_stale", step=command.step, version=command.version)
            return
        step = Step(onboarding.step)
        try:
            outcome: Outcome | MetaFailure = await make(step, onboarding, deps, conn)
        except (GraphError, WamuxFailure) as exc:
            outcome = failure_of(exc)
        except SecretboxError as exc:  # no key ring configured, or a stored secret that no longer opens
            outcome = failure_of(WamuxFailure(MISCONFIGURED, f"credentials: {exc}"))
        if isinstance(outcome, Outcome):
            progress = machine.advance(onboarding.progress, outcome.done)
            await record(
                deps, conn, onboarding, progress, envelope.correlation_id, number=outcome.number, **outcome.columns
            )
            return
        await _failed(deps, conn, onboarding, step, outcome, envelope.correlation_id)


async def _failed(
    deps: Deps, conn: asyncpg.Connection, onboarding: Onboarding, step: Step, failure: MetaFailure, correlation: str
) -> None:
    tries = onboarding.attempts + 1
    if failure.retryable and tries < deps.settings.onboarding_max_attempts:
        progress = machine.advance(onboarding.progress, StepFailed(step, failure))
        delay = RETRY_TIERS_S[min(tries, len(RETRY_TIERS_S)) - 1]
        log.info("onboarding.step_retry", step=str(step), attempt=tries, delay_s=delay, code=failure.code)
        await record(deps, conn, onboarding, progress, correlation, retry_in_s=delay, attempts=tries, keep_input=True)
        return
    final = failure.model_copy(update={"retryable": False})  # tried enough: the machine decides
    progress = machine.advance(onboarding.progress, StepFailed(step, final))
    log.warning("onboarding.step_failed", step=str(step), code=failure.code, source=failure.source, to=progress.state)
    await record(deps, conn, onboarding, progress, correlation, attempts=tries)


async def resume_stuck(deps: Deps) -> int:
    """Send again the step of every onboarding whose call has not moved for a long time (its message lost, or
    dead-lettered after repeated crashes): the same message, so a copy still on its way changes nothing."""
    async with deps.pool.acquire() as conn:
        stuck = await onboardings.stuck(conn, deps.settings.onboarding_stuck_after_s)
    for onboarding in stuck:
        message = OnboardingStep(onboarding_id=onboarding.id, step=onboarding.step, version=onboarding.version)
        message_id = derived_id(message.TYPE, key(onboarding))
        envelope = wrap(
            message, id=message_id, tenant_id=onboarding.client_id, correlation_id=f"resume:{onboarding.id}"
        )
        try:
            await deps.publisher.publish(envelope)
        except PublishFailed as exc:  # the broker is away: the next round sends it
            log.warning("onboarding.step_resend_failed", reason=exc.reason)
            break
        log.warning("onboarding.step_resent", step=onboarding.step, phone_number=mask_phone(onboarding.phone_number))
    return len(stuck)

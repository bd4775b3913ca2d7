"""The onboarding state machine, pure: what an input does to an onboarding, and which Meta call comes next.

Signup: pending → signup_started → code_exchanged → subscribed → registered → active. A coexistence number goes
subscribed → active once its contacts and history are synced and it is read back: it is never registered.
Manual: pending → code_requested → code_verified → registered → active. A retryable Meta failure keeps the state
and the step (the caller retries with backoff); a wrong code goes back to waiting for the code; any other failure
is ``failed``, on the step it happened. An active number may be suspended and resumed; one suspended for
reauthorization resumes only through a new signup.
"""

from __future__ import annotations

from dataclasses import replace

from directory.onboarding.steps import (
    CompleteSignup,
    Input,
    Method,
    PartnerShared,
    Progress,
    Refused,
    RequestCode,
    Resume,
    SignupOpened,
    Step,
    StepDone,
    StepFailed,
    Suspend,
    VerifyCode,
    Wait,
)
from shared.contracts.directory import OnboardingState

WRONG_CODE = 136025  # the client typed another code: ask again
REVERIFY = 133006  # the number must be verified again before register: request a new code
REAUTHORIZE = "reauthorization_needed"


def start(method: Method, coexistence: bool = False) -> Progress:
    """A new onboarding (``number.register``): the manual branch first adds the number to the WABA."""
    if coexistence and method == "manual":
        raise Refused("a coexistence number is connected through Embedded Signup, not the manual path")
    if method == "manual":
        return Progress("pending", Step.ADD_PHONE_NUMBER, method)
    return Progress("pending", Wait.SIGNUP, method, coexistence)


def next_call(progress: Progress) -> Step | None:
    """The Meta call to make now (also after a crash), or None while waiting for the client, when done, or once
    failed (its step is kept to say where it failed, never to be called again)."""
    if progress.state == "failed":
        return None
    return progress.step if isinstance(progress.step, Step) else None


def advance(progress: Progress, event: Input) -> Progress:
    """The onboarding after ``event``; the same object when it changes nothing (a repeated input)."""
    match event:
        case StepDone():
            return _done(progress, event)
        case StepFailed():
            return _failed(progress, event)
        case Suspend():
            return _suspend(progress, event)
        case Resume():
            if progress.state != "suspended":
                raise Refused(f"only a suspended number can be resumed; this one is {progress.state}")
            if progress.suspended_reason == REAUTHORIZE:
                raise Refused("the number's token was revoked: the client must go through the signup again")
            return replace(progress, state="active", step=Wait.DONE, suspended_reason=None)
        case _:
            return _command(progress, event)


def _command(
    progress: Progress, event: SignupOpened | CompleteSignup | PartnerShared | RequestCode | VerifyCode
) -> Progress:
    state, step = progress.state, progress.step
    if state == "failed":
        raise Refused(f"the onboarding failed at {step}: register the number again")
    reauthorizing = state == "suspended" and progress.suspended_reason == REAUTHORIZE
    if isinstance(event, CompleteSignup) and reauthorizing:
        return replace(progress, state="signup_started", step=Step.EXCHANGE_CODE, error=None, suspended_reason=None)
    if isinstance(event, PartnerShared) and (reauthorizing or (state in _WAITING and step == Wait.SIGNUP)):
        if progress.method != "signup":
            raise Refused("this onboarding verifies the number by SMS or voice: request a code instead")
        shared_pnid = event.phone_number_id
        return replace(
            progress,
            state="code_exchanged",
            step=Step.SUBSCRIBE_APP,
            phone_number_id=shared_pnid,
            error=None,
            suspended_reason=None,
        )
    if isinstance(event, SignupOpened | CompleteSignup | PartnerShared) and progress.method != "signup":
        raise Refused("this onboarding verifies the number by SMS or voice: request a code instead")
    if isinstance(event, RequestCode | VerifyCode) and progress.method != "manual":
        raise Refused("this onboarding goes through Embedded Signup: the client accepts it on Meta's page")
    match event:
        case SignupOpened() if state in ("pending", "signup_started") and step == Wait.SIGNUP:
            return progress if state == "signup_started" else replace(progress, state="signup_started")
        case CompleteSignup() if state in ("pending", "signup_started") and step == Wait.SIGNUP:
            pnid = event.phone_number_id
            return replace(progress, state="signup_started", step=Step.EXCHANGE_CODE, phone_number_id=pnid)
        case RequestCode() if state == "pending" and step == Step.ADD_PHONE_NUMBER:
            raise Refused("the number is still being added to the WhatsApp account", retry_later=True)
        case RequestCode() if step == Step.REQUEST_CODE:
            return progress
        case RequestCode() if (state, step) in (("pending", Wait.REQUEST), ("code_requested", Wait.CODE)):
            return replace(progress, step=Step.REQUEST_CODE)
        case VerifyCode() if state == "code_requested" and step == Wait.CODE:
            return replace(progress, step=Step.VERIFY_CODE)
        case VerifyCode() if state == "code_requested" and step == Step.VERIFY_CODE:
            return progress
    raise Refused(f"{type(event).__name__} is not allowed while the onboarding is {state} ({step})")


_WAITING = ("pending", "signup_started")


def _after_override(progress: Progress) -> Step:
    return Step.SYNC_CONTACTS if progress.coexistence else Step.REGISTER


# (state, step done) → (next state, next step)
_FORWARD: dict[tuple[OnboardingState, Step], tuple[OnboardingState, Step | Wait]] = {
    ("pending", Step.ADD_PHONE_NUMBER): ("pending", Wait.REQUEST),
    ("pending", Step.REQUEST_CODE): ("code_requested", Wait.CODE),
    ("code_requested", Step.REQUEST_CODE): ("code_requested", Wait.CODE),
    ("code_requested", Step.VERIFY_CODE): ("code_verified", Step.REGISTER),
    ("code_exchanged", Step.FIND_NUMBER): ("code_exchanged", Step.SUBSCRIBE_APP),
    ("code_exchanged", Step.SUBSCRIBE_APP): ("subscribed", Step.OVERRIDE_CALLBACK),
    ("code_verified", Step.REGISTER): ("registered", Step.READ_NUMBER),
    ("subscribed", Step.REGISTER): ("registered", Step.READ_NUMBER),
    ("registered", Step.READ_NUMBER): ("active", Wait.DONE),
    ("subscribed", Step.SYNC_CONTACTS): ("subscribed", Step.SYNC_HISTORY),
    ("subscribed", Step.SYNC_HISTORY): ("subscribed", Step.READ_NUMBER),
}


def _done(progress: Progress, event: StepDone) -> Progress:
    if event.step != progress.step:
        return progress  # a stale or repeated result: the onboarding has moved on
    pnid = event.phone_number_id or progress.phone_number_id
    if event.step in (Step.ADD_PHONE_NUMBER, Step.FIND_NUMBER) and pnid is None:
        raise Refused(f"{event.step} must name the phone_number_id it found")
    if event.step == Step.EXCHANGE_CODE:
        following: Step = Step.SUBSCRIBE_APP if pnid else Step.FIND_NUMBER
        return replace(progress, state="code_exchanged", step=following, error=None)
    if event.step == Step.OVERRIDE_CALLBACK:
        return replace(progress, step=_after_override(progress), error=None)
    if event.step == Step.READ_NUMBER and progress.state == "subscribed" and progress.coexistence:
        return replace(progress, state="active", step=Wait.DONE, error=None)
    if (progress.state, event.step) not in _FORWARD:
        raise Refused(f"{event.step} does not follow while the onboarding is {progress.state}")
    state, step = _FORWARD[progress.state, event.step]
    return replace(progress, state=state, step=step, phone_number_id=pnid, error=None)


def _failed(progress: Progress, event: StepFailed) -> Progress:
    if event.step != progress.step:
        return progress
    failure = event.failure
    if failure.retryable:
        return replace(progress, error=failure)  # same step, retried with backoff by the caller
    if event.step == Step.VERIFY_CODE and failure.code == WRONG_CODE:
        return replace(progress, step=Wait.CODE, error=failure)
    if event.step == Step.REGISTER and failure.code == REVERIFY and progress.method == "manual":
        return replace(progress, state="pending", step=Wait.REQUEST, error=failure)
    return replace(progress, state="failed", error=failure)


def _suspend(progress: Progress, event: Suspend) -> Progress:
    if progress.state == "suspended":
        return progress
    if progress.state != "active":
        raise Refused(f"only an active number can be suspended; this one is {progress.state}")
    return replace(progress, state="suspended", step=Wait.RESUME, suspended_reason=event.reason)

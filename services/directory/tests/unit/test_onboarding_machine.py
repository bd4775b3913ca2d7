"""The onboarding state machine: every transition of both branches, Meta's failures, and every refusal."""

from __future__ import annotations

from dataclasses import replace

import pytest

from directory.onboarding.machine import advance, next_call, start
from directory.onboarding.steps import (
    CompleteSignup,
    Input,
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
from shared.contracts.directory import MetaFailure

PNID = "106540352242922"


def failed(step: Step, code: int, retryable: bool = False) -> StepFailed:
    return StepFailed(step, MetaFailure(code=code, message=f"(#{code})", retryable=retryable))


def run(progress: Progress, *events: Input) -> Progress:
    for event in events:
        progress = advance(progress, event)
    return progress


def trace(progress: Progress, *events: Input) -> list[tuple[str, str]]:
    seen = [(progress.state, str(progress.step))]
    for event in events:
        progress = advance(progress, event)
        seen.append((progress.state, str(progress.step)))
    return seen


def test_the_signup_branch_goes_pending_signup_started_code_exchanged_subscribed_registered_active() -> None:
    events: list[Input] = [
        SignupOpened(),
        CompleteSignup(PNID),
        StepDone(Step.EXCHANGE_CODE),
        StepDone(Step.SUBSCRIBE_APP),
        StepDone(Step.OVERRIDE_CALLBACK),
        StepDone(Step.REGISTER),
        StepDone(Step.READ_NUMBER),
    ]
    assert trace(start("signup"), *events) == [
        ("pending", "await_signup"),
        ("signup_started", "await_signup"),
        ("signup_started", "exchange_code"),
        ("code_exchanged", "subscribe_app"),
        ("subscribed", "override_callback"),
        ("subscribed", "register"),
        ("registered", "read_number"),
        ("active", "done"),
    ]


def test_a_coexistence_number_is_found_under_its_waba_and_never_registered_with_a_pin() -> None:
    events: list[Input] = [
        CompleteSignup(None),
        StepDone(Step.EXCHANGE_CODE),
        StepDone(Step.FIND_NUMBER, PNID),
        StepDone(Step.SUBSCRIBE_APP),
        StepDone(Step.OVERRIDE_CALLBACK),
        StepDone(Step.SYNC_CONTACTS),
        StepDone(Step.SYNC_HISTORY),
        StepDone(Step.READ_NUMBER),
    ]
    steps = trace(start("signup", coexistence=True), *events)
    assert steps[2:] == [
        ("code_exchanged", "find_number"),
        ("code_exchanged", "subscribe_app"),
        ("subscribed", "override_callback"),
        ("subscribed", "sync_contacts"),
        ("subscribed", "sync_history"),
        ("subscribed", "read_number"),
        ("active", "done"),
    ]
    assert all(step != "register" for _, step in steps)
    assert run(start("signup", coexistence=True), *events).phone_number_id == PNID


def test_the_manual_branch_goes_pending_code_requested_code_verified_registered_active() -> None:
    events: list[Input] = [
        StepDone(Step.ADD_PHONE_NUMBER, PNID),
        RequestCode(),
        StepDone(Step.REQUEST_CODE),
        VerifyCode(),
        StepDone(Step.VERIFY_CODE),
        StepDone(Step.REGISTER),
        StepDone(Step.READ_NUMBER),
    ]
    assert trace(start("manual"), *events) == [
        ("pending", "add_phone_number"),
        ("pending", "await_request_code"),
        ("pending", "request_code"),
        ("code_requested", "await_code"),
        ("code_requested", "verify_code"),
        ("code_verified", "register"),
        ("registered", "read_number"),
        ("active", "done"),
    ]
    assert run(start("manual"), *events).phone_number_id == PNID


def manual_at(step: Step | Wait) -> Progress:
    """A manual onboarding driven to ``step``."""
    progress = start("manual")
    path: list[Input] = [
        StepDone(Step.ADD_PHONE_NUMBER, PNID),
        RequestCode(),
        StepDone(Step.REQUEST_CODE),
        VerifyCode(),
        StepDone(Step.VERIFY_CODE),
        StepDone(Step.REGISTER),
        StepDone(Step.READ_NUMBER),
    ]
    for event in path:
        if progress.step == step:
            return progress
        progress = advance(progress, event)
    assert progress.step == step
    return progress


def signup_at(step: Step | Wait, coexistence: bool = False) -> Progress:
    progress = start("signup", coexistence)
    path: list[Input] = [CompleteSignup(None if coexistence else PNID), StepDone(Step.EXCHANGE_CODE)]
    path += [StepDone(Step.FIND_NUMBER, PNID)] if coexistence else []
    path += [StepDone(Step.SUBSCRIBE_APP), StepDone(Step.OVERRIDE_CALLBACK)]
    path += [StepDone(Step.SYNC_CONTACTS), StepDone(Step.SYNC_HISTORY)] if coexistence else [StepDone(Step.REGISTER)]
    path += [StepDone(Step.READ_NUMBER)]
    for event in path:
        if progress.step == step:
            return progress
        progress = advance(progress, event)
    assert progress.step == step
    return progress


@pytest.mark.parametrize(
    "step",
    [Step.ADD_PHONE_NUMBER, Step.REQUEST_CODE, Step.VERIFY_CODE, Step.REGISTER, Step.READ_NUMBER],
)
def test_a_crash_at_any_manual_step_resumes_at_that_step(step: Step) -> None:
    stored = manual_at(step)
    reloaded = Progress(**vars(stored))  # what the table gives back after a restart
    assert next_call(reloaded) == step


@pytest.mark.parametrize(
    "step",
    [Step.EXCHANGE_CODE, Step.SUBSCRIBE_APP, Step.OVERRIDE_CALLBACK, Step.REGISTER, Step.READ_NUMBER],
)
def test_a_crash_at_any_signup_step_resumes_at_that_step(step: Step) -> None:
    assert next_call(Progress(**vars(signup_at(step)))) == step


@pytest.mark.parametrize("wait", [Wait.SIGNUP, Wait.DONE])
def test_nothing_is_called_while_waiting_for_the_client_or_when_active(wait: Wait) -> None:
    assert next_call(signup_at(wait)) is None


@pytest.mark.parametrize("wait", [Wait.REQUEST, Wait.CODE])
def test_the_manual_branch_calls_nothing_until_the_client_asks(wait: Wait) -> None:
    assert next_call(manual_at(wait)) is None


def test_subscribe_comes_before_the_override_which_comes_before_register() -> None:
    progress = signup_at(Step.SUBSCRIBE_APP)
    order = []
    while (call := next_call(progress)) is not None:
        order.append(call)
        progress = advance(progress, StepDone(call))
    assert order == [Step.SUBSCRIBE_APP, Step.OVERRIDE_CALLBACK, Step.REGISTER, Step.READ_NUMBER]


@pytest.mark.parametrize(
    ("step", "code"),
    [
        (Step.REGISTER, 133016),
        (Step.REGISTER, 131000),
        (Step.SUBSCRIBE_APP, 2),
        (Step.OVERRIDE_CALLBACK, 2200),
        (Step.READ_NUMBER, 80007),
    ],
)
def test_a_retryable_failure_keeps_the_state_and_step_and_records_metas_error(step: Step, code: int) -> None:
    before = signup_at(step)
    after = advance(before, failed(step, code, retryable=True))
    assert (after.state, after.step, next_call(after)) == (before.state, step, step)
    assert after.error is not None and (after.error.code, after.error.retryable) == (code, True)
    assert advance(after, StepDone(step)).error is None  # a later success clears it


@pytest.mark.parametrize(
    ("progress", "step", "code"),
    [
        (signup_at(Step.EXCHANGE_CODE), Step.EXCHANGE_CODE, 100),  # a used or expired code (100/36009)
        (signup_at(Step.REGISTER), Step.REGISTER, 133005),  # the PIN is not the number's
        (signup_at(Step.OVERRIDE_CALLBACK), Step.OVERRIDE_CALLBACK, 100),
        (manual_at(Step.ADD_PHONE_NUMBER), Step.ADD_PHONE_NUMBER, 100),
        (manual_at(Step.REQUEST_CODE), Step.REQUEST_CODE, 136024),
        (manual_at(Step.REGISTER), Step.REGISTER, 133005),
    ],
)
def test_a_permanent_failure_is_failed_on_its_step_with_metas_code(progress: Progress, step: Step, code: int) -> None:
    after = advance(progress, failed(step, code))
    assert (after.state, after.step, next_call(after)) == ("failed", step, None)  # said where, never called again
    assert after.error is not None and (after.error.code, after.error.retryable) == (code, False)


def test_a_wrong_code_waits_for_the_code_again_instead_of_failing() -> None:
    after = advance(manual_at(Step.VERIFY_CODE), failed(Step.VERIFY_CODE, 136025))
    assert (after.state, after.step) == ("code_requested", Wait.CODE)
    assert after.error is not None and after.error.code == 136025
    assert advance(after, VerifyCode()).step == Step.VERIFY_CODE


def test_register_needing_reverification_asks_for_a_new_code() -> None:
    after = advance(manual_at(Step.REGISTER), failed(Step.REGISTER, 133006))
    assert (after.state, after.step) == ("pending", Wait.REQUEST)
    assert run(after, RequestCode(), StepDone(Step.REQUEST_CODE)).state == "code_requested"


def test_a_code_can_be_requested_again_by_sms_or_voice() -> None:
    assert advance(manual_at(Wait.CODE), RequestCode()).step == Step.REQUEST_CODE
    assert advance(manual_at(Step.REQUEST_CODE), RequestCode()) == manual_at(Step.REQUEST_CODE)


def test_repeated_or_stale_results_change_nothing() -> None:
    progress = signup_at(Step.REGISTER)
    assert advance(progress, StepDone(Step.SUBSCRIBE_APP)) is progress
    assert advance(progress, failed(Step.EXCHANGE_CODE, 100)) is progress
    assert advance(signup_at(Wait.DONE), StepDone(Step.READ_NUMBER)) == signup_at(Wait.DONE)
    assert advance(manual_at(Step.VERIFY_CODE), VerifyCode()) == manual_at(Step.VERIFY_CODE)
    opened = advance(start("signup"), SignupOpened())
    assert advance(opened, SignupOpened()) is opened


def test_an_active_number_is_suspended_and_resumed() -> None:
    suspended = advance(signup_at(Wait.DONE), Suspend("operator"))
    assert (suspended.state, suspended.step, suspended.suspended_reason) == ("suspended", Wait.RESUME, "operator")
    assert advance(suspended, Suspend("operator")) is suspended
    resumed = advance(suspended, Resume())
    assert (resumed.state, resumed.step, resumed.suspended_reason) == ("active", Wait.DONE, None)


def test_a_number_whose_token_was_revoked_resumes_only_through_a_new_signup() -> None:
    suspended = advance(signup_at(Wait.DONE), Suspend("reauthorization_needed"))
    with pytest.raises(Refused, match="signup again"):
        advance(suspended, Resume())
    again = advance(suspended, CompleteSignup(PNID))
    assert (again.state, again.step, again.suspended_reason) == ("signup_started", Step.EXCHANGE_CODE, None)


REFUSALS: list[tuple[str, Progress, Input, str]] = [
    ("signup command on a manual onboarding", manual_at(Wait.REQUEST), CompleteSignup(PNID), "request a code"),
    ("signup link on a manual onboarding", manual_at(Wait.REQUEST), SignupOpened(), "request a code"),
    ("code request on a signup onboarding", start("signup"), RequestCode(), "Embedded Signup"),
    ("code check on a signup onboarding", start("signup"), VerifyCode(), "Embedded Signup"),
    ("verify before any code was sent", manual_at(Wait.REQUEST), VerifyCode(), "not allowed"),
    ("request once verified", manual_at(Step.REGISTER), RequestCode(), "not allowed"),
    ("a second signup result", signup_at(Step.SUBSCRIBE_APP), CompleteSignup(PNID), "not allowed"),
    ("signup result once active", signup_at(Wait.DONE), CompleteSignup(PNID), "not allowed"),
    ("suspend before active", signup_at(Step.REGISTER), Suspend(), "only an active number"),
    ("resume an active number", signup_at(Wait.DONE), Resume(), "only a suspended number"),
    ("a command once failed", replace(manual_at(Step.REGISTER), state="failed"), RequestCode(), "failed at register"),
    ("add without the number's id", manual_at(Step.ADD_PHONE_NUMBER), StepDone(Step.ADD_PHONE_NUMBER), "must name"),
]


@pytest.mark.parametrize(("case", "progress", "event", "why"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_inputs_not_allowed_in_a_state_are_refused_with_the_reason(
    case: str, progress: Progress, event: Input, why: str
) -> None:
    with pytest.raises(Refused, match=why) as refused:
        advance(progress, event)
    assert refused.value.retry_later is False


def test_a_code_asked_for_while_the_number_is_being_added_is_refused_for_now_only() -> None:
    with pytest.raises(Refused, match="still being added") as refused:
        advance(start("manual"), RequestCode())
    assert refused.value.retry_later is True


def test_a_coexistence_number_cannot_take_the_manual_path() -> None:
    with pytest.raises(Refused, match="Embedded Signup"):
        start("manual", coexistence=True)


def test_hosted_signup_s_partner_added_skips_the_code_exchange_and_goes_on_to_subscribe() -> None:
    assert trace(
        start("signup"),
        PartnerShared(PNID),
        StepDone(Step.SUBSCRIBE_APP),
        StepDone(Step.OVERRIDE_CALLBACK),
        StepDone(Step.REGISTER),
        StepDone(Step.READ_NUMBER),
    ) == [
        ("pending", "await_signup"),
        ("code_exchanged", "subscribe_app"),
        ("subscribed", "override_callback"),
        ("subscribed", "register"),
        ("registered", "read_number"),
        ("active", "done"),
    ]
    assert run(start("signup"), PartnerShared(PNID)).phone_number_id == PNID


def test_partner_added_also_reauthorizes_a_suspended_number_but_not_a_manual_or_busy_onboarding() -> None:
    active = run(
        start("signup"),
        PartnerShared(PNID),
        *(StepDone(s) for s in (Step.SUBSCRIBE_APP, Step.OVERRIDE_CALLBACK, Step.REGISTER, Step.READ_NUMBER)),
    )
    suspended = advance(active, Suspend("reauthorization_needed"))
    assert (advance(suspended, PartnerShared(PNID)).state, advance(suspended, PartnerShared(PNID)).step) == (
        "code_exchanged",
        Step.SUBSCRIBE_APP,
    )
    with pytest.raises(Refused):
        advance(start("manual"), PartnerShared(PNID))
    with pytest.raises(Refused):
        advance(active, PartnerShared(PNID))  # connected already: nothing to finish


def test_a_failed_onboarding_calls_nothing_again_though_it_names_the_step_it_failed_at() -> None:
    failed_at = advance(run(start("signup"), CompleteSignup(PNID)), failed(Step.EXCHANGE_CODE, 100))
    assert (failed_at.state, failed_at.step, next_call(failed_at)) == ("failed", Step.EXCHANGE_CODE, None)

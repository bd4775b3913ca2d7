"""The onboarding's vocabulary: the Meta calls it makes, the waits for the client, what may happen to it.

``Progress.step`` is always the *next* thing to do — a Meta call (:class:`Step`) or a wait for a command
(:class:`Wait`) — so an onboarding stored after any step resumes at exactly that step after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from shared.contracts.directory import MetaFailure, OnboardingState

Method = Literal["signup", "manual"]


class Step(StrEnum):
    """A Meta call (``shared.graph.onboarding``), in Meta's order within each branch."""

    ADD_PHONE_NUMBER = "add_phone_number"  # manual: POST /{waba_id}/phone_numbers
    REQUEST_CODE = "request_code"
    VERIFY_CODE = "verify_code"
    EXCHANGE_CODE = "exchange_code"  # signup: the code for the business token
    FIND_NUMBER = "find_number"  # signup without a phone_number_id (coexistence): GET /{waba_id}/phone_numbers
    SUBSCRIBE_APP = "subscribe_app"
    OVERRIDE_CALLBACK = "override_callback"  # a second call, after subscribe_app (else Meta's #100)
    REGISTER = "register"  # never for a coexistence number
    # Coexistence only, within 24 h, each once: the Business app's contacts, then its chat history (smb_app_data).
    SYNC_CONTACTS = "sync_contacts"
    SYNC_HISTORY = "sync_history"
    READ_NUMBER = "read_number"  # GET /{phone_number_id}: display name, quality, platform, throughput


class Wait(StrEnum):
    """Nothing to call: the onboarding waits for a command (or is done)."""

    SIGNUP = "await_signup"  # number.complete_signup
    REQUEST = "await_request_code"  # number.request_code
    CODE = "await_code"  # number.verify_code
    RESUME = "await_resume"  # number.resume (or a new signup when reauthorization is needed)
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    """What the machine knows of one onboarding."""

    state: OnboardingState
    step: Step | Wait
    method: Method
    coexistence: bool = False
    phone_number_id: str | None = None
    error: MetaFailure | None = None  # Meta's last error, on the step it happened
    suspended_reason: str | None = None


# Inputs: commands (from the CRM or the REST API) and the results of Meta calls.
@dataclass(frozen=True)
class SignupOpened:
    """The client opened the signup link (the QR code)."""


@dataclass(frozen=True)
class CompleteSignup:
    phone_number_id: str | None = None  # absent for coexistence: found under the WABA


@dataclass(frozen=True)
class PartnerShared:
    """Hosted Embedded Signup's finish: Meta's ``account_update`` PARTNER_ADDED named the client's WABA, whose
    business token the partner fetched itself (no code to exchange) and under which the number was found."""

    phone_number_id: str


@dataclass(frozen=True)
class RequestCode:
    pass


@dataclass(frozen=True)
class VerifyCode:
    pass


@dataclass(frozen=True)
class Suspend:
    reason: str = "operator"  # "reauthorization_needed" after Graph's 190 on the number's token


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class StepDone:
    step: Step
    phone_number_id: str | None = None  # what add_phone_number and find_number learn


@dataclass(frozen=True)
class StepFailed:
    step: Step
    failure: MetaFailure


Input = (
    SignupOpened | CompleteSignup | PartnerShared | RequestCode | VerifyCode | Suspend | Resume | StepDone | StepFailed
)


class Refused(Exception):
    """The input is not allowed in the onboarding's state; ``retry_later`` when it will be shortly."""

    def __init__(self, message: str, *, retry_later: bool = False):
        super().__init__(message)
        self.retry_later = retry_later

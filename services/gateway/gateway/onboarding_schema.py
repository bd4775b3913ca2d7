"""The onboarding API's bodies: what a person sends (strict: an unknown field is an error, not a silent no-op) and
what the gateway answers. The OpenAPI document (gateway/openapi.py) is generated from these same models.

The constraints are the directory's commands' own (shared/contracts/directory.py): a body that passes here
makes a command that passes there.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.contracts.directory import MetaFailure, OnboardingState, QuotaPolicy

_CODE = r"^[0-9]{6}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewClient(_Body):
    client_id: uuid.UUID | None = Field(default=None, description="Your choice, to retry safely; else wamux's")
    name: str = Field(min_length=1, max_length=200)
    personality: str = Field(default="", max_length=8000, description="How the AI speaks for the business")
    language: str = Field(default="es", min_length=2, max_length=16, description="BCP 47, e.g. es, es-CO, en")
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA, e.g. America/Bogota")
    quota_policy: QuotaPolicy = "count_paid"
    free_quota: int = Field(default=1000, ge=0, description="Free conversations a month for each new number")


class ClientChanges(_Body):
    """Only the fields given change. ``quota_policy`` and ``free_quota`` are the operator's: a client's key asking
    for them is refused (403)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    personality: str | None = Field(default=None, max_length=8000)
    language: str | None = Field(default=None, min_length=2, max_length=16)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    quota_policy: QuotaPolicy | None = Field(default=None, description="Operator key only")
    free_quota: int | None = Field(default=None, ge=0, description="Operator key only")


class NumberRegistration(_Body):
    client_id: uuid.UUID
    phone_number: str = Field(min_length=3, max_length=32, description="E.164 preferred, e.g. +57 300 123 4567")
    display_name: str | None = Field(default=None, max_length=120)
    method: Literal["signup", "manual"] = Field(
        default="signup", description="signup: the client accepts on Meta's page (QR); manual: an SMS or voice code"
    )
    coexistence: bool = Field(default=False, description="The number stays on the WhatsApp Business app too")
    pin: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6}$",
        repr=False,
        description="The number's two-step verification PIN, when it has one (moved from another provider); kept "
        "encrypted, never shown again",
    )


class CodeRequest(_Body):
    method: Literal["SMS", "VOICE"] = "SMS"
    language: str = Field(default="es", min_length=2, max_length=16)


class CodeVerification(_Body):
    code: str = Field(description="The 6 digits Meta sent by SMS or voice", json_schema_extra={"pattern": _CODE})

    @field_validator("code")
    @classmethod
    def _six_digits(cls, code: str) -> str:
        if not re.fullmatch(_CODE, code):
            raise ValueError("must be the 6 digits Meta sent by SMS or voice, e.g. 123456")
        return code


class ClientCreatedAnswer(BaseModel):
    client_id: uuid.UUID
    api_key: str = Field(description="Shown this once: wamux keeps only its hash")
    name: str
    language: str
    timezone: str
    quota_policy: QuotaPolicy
    free_quota: int


class Accepted(BaseModel):
    """The command is on its way to the directory; what it did shows in the state read back."""

    status: Literal["accepted"] = "accepted"
    command_id: uuid.UUID
    client_id: uuid.UUID | None = None
    changing: list[str] = []


class SignupLink(BaseModel):
    signup_url: str | None = Field(default=None, description="Opens Meta's Embedded Signup (signup method)")
    signup_link_expires_at: datetime | None = None
    qr_png_url: str | None = None
    qr_svg_url: str | None = None


class LinkRenewed(Accepted, SignupLink):
    """The new link works at once; the old one stops once the directory has recorded the new one."""


class OnboardingAccepted(SignupLink):
    onboarding_id: uuid.UUID
    client_id: uuid.UUID
    phone_number: str = Field(description="E.164")
    method: Literal["signup", "manual"]
    state: OnboardingState | Literal["submitted"]
    state_url: str


class OnboardingError(MetaFailure):
    text: str = Field(description="In plain words, with Meta's code")


class Onboarding(SignupLink):
    onboarding_id: uuid.UUID
    client_id: uuid.UUID
    phone_number: str
    display_name: str | None
    method: Literal["signup", "manual"]
    coexistence: bool
    state: OnboardingState
    step: str = Field(
        description="The next Meta call, or what it waits for (await_signup, await_code, done…); for a failed "
        "onboarding, the call that failed"
    )
    phone_number_id: str | None
    waba_id: str | None
    error: OnboardingError | None
    attempts: int
    suspended_reason: str | None
    created_at: datetime
    updated_at: datetime


def problems(exc: ValidationError) -> str:
    """pydantic's errors as one line a person can act on: 'phone_number: String should have at least 3 characters'."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )


def error_text(error: MetaFailure) -> str:
    who = "Meta" if error.source == "meta" else "wamux"
    code = f"{error.code}" + (f"/{error.subcode}" if error.subcode else "")
    then = "wamux retries it" if error.retryable else "it will not be retried"
    return f"{who} error {code}: {error.message} ({then})"

"""The directory's contract: clients, their numbers and onboarding (issue 8).

Over 200 lines on purpose: a CRM developer reads the directory's whole API here, commands then the events they get.

A CRM (or the gateway's REST API on a person's behalf) publishes these commands on the commands exchange; the
directory service, the only writer of the ``directory`` schema, carries them out and answers with events. Every
command is idempotent by its envelope id; the ids a caller needs later (``client_id``, ``onboarding_id``) are chosen
by the caller, so a 202 can name them before the directory has run. A command that is malformed, impossible or
that nobody consumes is answered by ``command.rejected`` carrying the command's envelope id.

Secrets never travel on the broker: ``client.create`` carries the SHA-256 of an API key the caller generated
(``shared.api_keys``), never the key; business tokens stay in the directory, encrypted.
Longer than 150 lines on purpose: the directory's whole public vocabulary on one page.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from shared.contracts.envelope import Command, Event, Payload

QuotaPolicy = Literal["count_paid", "pause_ai"]
RejectionReason = Literal["malformed", "unknown_command", "not_found", "conflict", "invalid", "meta_error"]
# The onboarding's state machine (directory/onboarding): the hosted/embedded signup branch
# pending → signup_started → code_exchanged → subscribed → registered → active, the manual branch
# pending → code_requested → code_verified → registered → active, and failed / suspended.
OnboardingState = Literal[
    "pending",
    "signup_started",
    "code_exchanged",
    "subscribed",
    "code_requested",
    "code_verified",
    "registered",
    "active",
    "failed",
    "suspended",
]
_PHONE = Field(min_length=3, max_length=32, description="The number as the client typed it; E.164 preferred.")
_META_ID = Field(min_length=1, max_length=64, pattern=r"^[0-9]+$")


class PersonalityProfile(BaseModel):
    """The dashboard form's personality: the prompt carries these as labelled lines (shared.prompting)."""

    description: str = Field(default="", max_length=2000, description="What the business is and does")
    tone: str = Field(default="", max_length=500, description="How it speaks, e.g. professional but friendly")
    offer: str = Field(default="", max_length=2000, description="What to offer customers, e.g. visits Mon-Fri")
    hours: str = Field(default="", max_length=500, description="Opening hours")
    never_say: str = Field(default="", max_length=2000, description="Things the assistant must never say")


class ClientCreate(Command):
    """Create a client (a business). ``client_id`` is the caller's choice; creating it again is a no-op."""

    TYPE: ClassVar[str] = "client.create"
    client_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    personality: str = Field(default="", max_length=8000)
    language: str = Field(default="es", min_length=2, max_length=16, description="BCP 47, e.g. es, es-CO, en")
    timezone: str = Field(default="UTC", min_length=1, max_length=64, description="IANA, e.g. America/Bogota")
    quota_policy: QuotaPolicy = "count_paid"
    free_quota: int = Field(default=1000, ge=0, description="Free conversations a month for each new number")
    api_key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # The form's fields; given, the personality text is made from them (and replaces ``personality``).
    profile: PersonalityProfile | None = None


class ClientUpdate(Command):
    """Change what is given; what is left out stays as it is."""

    TYPE: ClassVar[str] = "client.update"
    client_id: uuid.UUID
    name: str | None = Field(default=None, min_length=1, max_length=200)
    personality: str | None = Field(default=None, max_length=8000)
    language: str | None = Field(default=None, min_length=2, max_length=16)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    quota_policy: QuotaPolicy | None = None
    free_quota: int | None = Field(default=None, ge=0)
    profile: PersonalityProfile | None = None
    # Who saved it, kept with the personality's new version: 'operator', 'client', or the CRM's own user name.
    changed_by: str = Field(default="crm", min_length=1, max_length=120)


class NumberRegister(Command):
    """Start connecting a number to a client: answered by ``number.onboarding_changed`` (state ``pending``)."""

    TYPE: ClassVar[str] = "number.register"
    onboarding_id: uuid.UUID
    client_id: uuid.UUID
    phone_number: str = _PHONE
    display_name: str | None = Field(default=None, max_length=120)
    method: Literal["signup", "manual"] = "signup"
    # The number stays on the WhatsApp Business app too (Embedded Signup's coexistence): never registered with a PIN.
    coexistence: bool = False
    # The signup link (signup method only), chosen by the caller so its 202 can show the link and the QR code
    # before the directory has run; absent, the directory chooses (id derived from the onboarding's, 7 days).
    link_id: uuid.UUID | None = None
    link_expires_at: datetime | None = None
    # The number's two-step verification PIN, when it has one already (moved from another provider): register must
    # give that PIN (else Meta's 133005). Kept encrypted by the directory; never in an event.
    pin: str | None = Field(default=None, pattern=r"^[0-9]{6}$", repr=False)


class NumberRequestCode(Command):
    """The manual branch: Meta sends the number a verification code by SMS or voice."""

    TYPE: ClassVar[str] = "number.request_code"
    onboarding_id: uuid.UUID
    code_method: Literal["SMS", "VOICE"] = "SMS"
    language: str = Field(default="es", min_length=2, max_length=16)


class NumberVerifyCode(Command):
    TYPE: ClassVar[str] = "number.verify_code"
    onboarding_id: uuid.UUID
    code: str = Field(pattern=r"^[0-9]{6}$")


class NumberCompleteSignup(Command):
    """What Embedded Signup handed back: the code to exchange for a business token, the WABA and the number."""

    TYPE: ClassVar[str] = "number.complete_signup"
    onboarding_id: uuid.UUID
    code: str = Field(min_length=1, max_length=2048)
    waba_id: str = _META_ID
    # Absent for coexistence, whose finish names only the WABA: the number is then found under it.
    phone_number_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$")
    business_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$")
    # The signup link the client came through: used up by this signup.
    link_id: uuid.UUID | None = None


class NumberRenewLink(Command):
    """A new signup link for an onboarding (the old one expired or was shared by mistake): the old is revoked."""

    TYPE: ClassVar[str] = "number.renew_link"
    onboarding_id: uuid.UUID
    link_id: uuid.UUID
    expires_at: datetime


class OnboardingStep(Command):
    """The directory to itself: make the onboarding's next Meta call. Sent for one ``version`` of the onboarding;
    a copy that finds the onboarding changed (done, repeated, stale) changes nothing. Not for a CRM."""

    TYPE: ClassVar[str] = "onboarding.step"
    onboarding_id: uuid.UUID
    step: str
    version: int = Field(ge=0)


class NumberSuspend(Command):
    TYPE: ClassVar[str] = "number.suspend"
    client_id: uuid.UUID
    phone_number_id: str = _META_ID
    reason: str = Field(default="operator", min_length=1, max_length=64)


class NumberResume(Command):
    TYPE: ClassVar[str] = "number.resume"
    client_id: uuid.UUID
    phone_number_id: str = _META_ID


class ClientCreated(Event):
    TYPE: ClassVar[str] = "client.created"
    client_id: uuid.UUID
    name: str
    language: str
    timezone: str
    quota_policy: QuotaPolicy
    free_quota: int


class ClientUpdated(Event):
    """The client as it is now, and which fields the command changed."""

    TYPE: ClassVar[str] = "client.updated"
    client_id: uuid.UUID
    changed: tuple[str, ...]
    # The personality's version now (a new one when ``changed`` names personality).
    personality_version: int = 0
    name: str
    language: str
    timezone: str
    quota_policy: QuotaPolicy
    free_quota: int


class MetaFailure(BaseModel):
    """The last error on an onboarding step: Meta's, as Meta gave it, or wamux's own (``source``), such as a
    number found to belong to another client, a number Meta does not list under the WABA."""

    source: Literal["meta", "wamux"] = "meta"
    code: int
    subcode: int | None = None
    message: str
    retryable: bool


class NumberOnboardingChanged(Event):
    """Every change of an onboarding's state, with the step it is at and Meta's last error."""

    TYPE: ClassVar[str] = "number.onboarding_changed"
    onboarding_id: uuid.UUID
    client_id: uuid.UUID
    phone_number: str
    state: OnboardingState
    step: str
    phone_number_id: str | None = None
    waba_id: str | None = None
    error: MetaFailure | None = None
    # The link to send the client (signup method, while it waits for the signup): opens Meta's Embedded Signup.
    signup_url: str | None = None
    signup_link_expires_at: datetime | None = None


class NumberActivated(Event):
    """A number receives and answers messages from now on (the router hands back what waited for it)."""

    TYPE: ClassVar[str] = "number.activated"
    client_id: uuid.UUID
    phone_number_id: str
    phone_number: str
    waba_id: str
    display_name: str = ""


class NumberSuspended(Event):
    TYPE: ClassVar[str] = "number.suspended"
    client_id: uuid.UUID
    phone_number_id: str
    reason: str


class NumberTokenRejected(Event):
    """The sender found a number's business token refused by Meta (Graph 190: expired, revoked, password changed):
    the directory suspends the number (``reauthorization_needed``) until the client signs up again."""

    TYPE: ClassVar[str] = "number.token_rejected"
    client_id: uuid.UUID
    phone_number_id: str
    code: int
    subcode: int | None = None
    message: str = ""


class CommandRejected(Event):
    """A command that could not be carried out: malformed, impossible (e.g. a number another client holds), or
    published with a routing key nobody consumes. ``command_id`` is the rejected envelope's id (None when the body
    could not even be read as an envelope)."""

    TYPE: ClassVar[str] = "command.rejected"
    command_id: uuid.UUID | None
    command_type: str
    reason: RejectionReason
    message: str
    errors: tuple[str, ...] = ()


class NumberMove(Command):
    """Give a number to another client (a business sold, re-onboarded): its past stays with the client it
    belonged to; the new owner starts from its own quota. Carried out by the directory service (``python -m
    directory``), as ``python -m directory.admin move-number`` does for an operator. Answered by ``number.moved``."""

    TYPE: ClassVar[str] = "number.move"
    phone_number_id: str
    to_client_id: uuid.UUID
    # The new owner's, when given; else the number keeps its own.
    free_quota: int | None = None
    display_name: str | None = None
    waba_id: str | None = None


class NumberMoved(Event):
    """A number changed owner. From ``moved_at`` its messages, conversations and usage are the new owner's
    (the envelope's tenant); what came before stays the previous owner's. One event per move, even if retried."""

    TYPE: ClassVar[str] = "number.moved"
    phone_number_id: str
    phone_number: str
    from_client_id: uuid.UUID
    to_client_id: uuid.UUID
    moved_at: datetime


ALL: tuple[type[Payload], ...] = (
    ClientCreate,
    ClientUpdate,
    NumberRegister,
    NumberRequestCode,
    NumberVerifyCode,
    NumberCompleteSignup,
    NumberRenewLink,
    OnboardingStep,
    NumberSuspend,
    NumberResume,
    ClientCreated,
    ClientUpdated,
    NumberOnboardingChanged,
    NumberActivated,
    NumberSuspended,
    NumberTokenRejected,
    CommandRejected,
    NumberMove,
    NumberMoved,
)
# Commands the directory sends itself: never a CRM's.
INTERNAL: tuple[type[Payload], ...] = (OnboardingStep,)

"""Every service's contract in one table: what each role consumes and what it publishes.

The broker's bindings are derived from it (:mod:`shared.messaging.topology`), each worker's ``ROUTES`` is checked
against it at start-up (:func:`check_routes`), a publisher opened for a role refuses a type the role does not
publish, and ``tests/unit/test_contracts.py`` holds the services' routes and the README's table to it.
Adding a message: define it in ``messages.py``, add it here to its publisher and its consumers, then the routes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from shared.contracts import directory as dir_
from shared.contracts import meta_events
from shared.contracts.envelope import Payload
from shared.contracts.messages import (
    ALL,
    ConversationOpened,
    MarkRead,
    MessageFailed,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    QuotaExhausted,
    ReplyPaused,
    SendMessage,
    WebhookParked,
    WebhookReceived,
)


class ContractViolation(Exception):
    """Code and contract disagree: a bug to fix in the service or in ``shared/contracts/roles.py``."""


@dataclass(frozen=True)
class Role:
    name: str
    consumes: tuple[type[Payload], ...]
    publishes: tuple[type[Payload], ...]
    # An outside party (the CRM) binds queues of its own; wamux declares none for it.
    outside: bool = False

    # Computed once per role (a publisher checks every envelope against it).
    @functools.cached_property
    def consumed_types(self) -> frozenset[str]:
        return frozenset(m.TYPE for m in self.consumes)

    @functools.cached_property
    def published_types(self) -> frozenset[str]:
        return frozenset(m.TYPE for m in self.publishes)


ROLES: dict[str, Role] = {
    r.name: r
    for r in (
        # The REST API and the signup pages publish the directory's commands on a person's behalf.
        Role(
            "gateway",
            consumes=(),
            publishes=(
                WebhookReceived,
                dir_.ClientCreate,
                dir_.ClientUpdate,
                dir_.NumberRegister,
                dir_.NumberRequestCode,
                dir_.NumberVerifyCode,
                dir_.NumberCompleteSignup,
                dir_.NumberRenewLink,
            ),
        ),
        Role(
            "router",
            # number.activated: what waited for the number (unknown, pending, suspended) is handed back.
            consumes=(WebhookReceived, MessageSent, dir_.NumberActivated),
            # webhook.received: replays (number.activated, `python -m router.parked replay`) hand parked parts back
            # to the router itself.
            publishes=(MessageReceived, MessageStatusChanged, WebhookParked, *meta_events.ALL, WebhookReceived),
        ),
        Role("ai-worker", consumes=(MessageReceived,), publishes=(MarkRead, SendMessage, ReplyPaused)),
        Role(
            "sender",
            consumes=(SendMessage, MarkRead),
            publishes=(MessageSent, MessageFailed, dir_.NumberTokenRejected),
        ),
        Role(
            "billing",
            consumes=(MessageReceived, MessageSent, MessageStatusChanged),
            publishes=(ConversationOpened, QuotaExhausted),
        ),
        Role(
            "directory",
            consumes=(
                dir_.ClientCreate,
                dir_.ClientUpdate,
                dir_.NumberRegister,
                dir_.NumberRequestCode,
                dir_.NumberVerifyCode,
                dir_.NumberCompleteSignup,
                dir_.NumberRenewLink,
                dir_.OnboardingStep,
                dir_.NumberSuspend,
                dir_.NumberResume,
                dir_.NumberMove,
                dir_.NumberTokenRejected,
                # Hosted Embedded Signup's finish: account_update PARTNER_ADDED names the client's WABA.
                meta_events.AccountUpdated,
            ),
            publishes=(
                dir_.ClientCreated,
                dir_.ClientUpdated,
                dir_.NumberOnboardingChanged,
                dir_.NumberActivated,
                dir_.NumberSuspended,
                dir_.NumberMoved,
                dir_.CommandRejected,
                dir_.OnboardingStep,
            ),
        ),
        Role(
            "crm",
            consumes=(),
            # Onboarding commands, and sends of its own (an agent's reply, a reminder flow: ``sent_by`` says which).
            publishes=(*(m for m in dir_.ALL if m.KIND == "command" and m not in dir_.INTERNAL), SendMessage),
            outside=True,
        ),
    )
}


def role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise ContractViolation(f"no role {name!r} in shared/contracts/roles.py: one of {', '.join(ROLES)}") from None


def models() -> tuple[type[Payload], ...]:
    """Every message some role publishes or consumes, in the vocabulary's order."""
    named = {m for r in ROLES.values() for m in (*r.consumes, *r.publishes)}
    return tuple(m for m in ALL if m in named)


def publishers(message: type[Payload]) -> tuple[str, ...]:
    return tuple(r.name for r in ROLES.values() if message in r.publishes)


def consumers(message: type[Payload]) -> tuple[str, ...]:
    return tuple(r.name for r in ROLES.values() if message in r.consumes)


def check_routes(name: str, handled: Iterable[str]) -> None:
    """At a worker's start-up: its routing table takes exactly what its role consumes, no more, no less."""
    expected, actual = role(name).consumed_types, frozenset(handled)
    if actual != expected:
        missing, extra = sorted(expected - actual), sorted(actual - expected)
        raise ContractViolation(
            f"{name}'s ROUTES differ from its contract in shared/contracts/roles.py: "
            f"consumed but not handled {missing or 'none'}, handled but not consumed {extra or 'none'}"
        )


def check_publish(name: str, message_type: str) -> None:
    if message_type not in role(name).published_types:
        raise ContractViolation(
            f"{name} may not publish {message_type!r}: add it to the role's publishes in shared/contracts/roles.py "
            f"if it should (it publishes {', '.join(sorted(role(name).published_types))})"
        )

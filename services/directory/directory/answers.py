"""How every directory handler opens and answers: once per envelope, in one transaction, with events confirmed.

:func:`once_per_envelope` records the command's envelope id in ``directory.inbox`` (:mod:`shared.messaging.inbox`)
in the same transaction as its effect; a command seen before changes nothing and is not answered again. Answers are
published (confirmed) before that transaction commits, with ids derived from the command's id: a crash after the
publish and before the commit redoes the effect and publishes the very same events, which consumers drop as
duplicates (as billing does). A :class:`Refused` command is recorded as handled too, its partial effect rolled
back, and answered by ``command.rejected``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

from directory.settings import DirectorySettings
from shared.contracts.directory import CommandRejected, RejectionReason
from shared.contracts.envelope import Envelope, Payload, derived_id, wrap
from shared.graph.onboarding import OnboardingGraph
from shared.logging import get_logger
from shared.messaging import inbox
from shared.messaging.broker import Publisher
from shared.secretbox import KeyRing

log = get_logger(__name__)
M = TypeVar("M", bound=Payload)
INBOX_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    settings: DirectorySettings
    graph: OnboardingGraph  # Meta's onboarding calls (system-user token unless a call names the client's)
    ring: KeyRing  # encrypts business tokens and PINs at rest


class Refused(Exception):
    """The command cannot be carried out (unknown client, a number another client holds, …): say why."""

    def __init__(self, reason: RejectionReason, message: str, errors: tuple[str, ...] = ()):
        super().__init__(message)
        self.reason, self.message, self.errors = reason, message, errors


def once_per_envelope(
    effect: Callable[[Envelope[M], Deps, asyncpg.Connection], Awaitable[None]],
) -> Callable[[Envelope[M], Deps], Awaitable[None]]:
    """The shared inbox opening (:func:`shared.messaging.inbox.once_per_envelope`), with a refusal answered."""

    @functools.wraps(effect)
    async def refusing(envelope: Envelope[M], deps: Deps, conn: asyncpg.Connection) -> None:
        try:
            async with conn.transaction():  # a savepoint: a refusal undoes the effect, keeps the inbox record
                await effect(envelope, deps, conn)
        except Refused as refusal:
            await answer(deps, envelope, rejection(envelope.id, envelope.type, refusal), tenant_of(envelope))

    return inbox.once_per_envelope("directory")(refusing)


def rejection(command_id: uuid.UUID | None, command_type: str, refusal: Refused) -> CommandRejected:
    log.info("command.rejected", command_type=command_type, reason=refusal.reason)
    return CommandRejected(
        command_id=command_id,
        command_type=command_type,
        reason=refusal.reason,
        message=refusal.message,
        errors=refusal.errors,
    )


def tenant_of(envelope: Envelope[Any]) -> uuid.UUID | None:
    client_id = getattr(envelope.data, "client_id", None) or getattr(envelope.data, "to_client_id", None)
    return envelope.tenant_id or client_id


async def answer(
    deps: Deps, cause: Envelope[Any], event: Payload, tenant_id: uuid.UUID | None, event_id: uuid.UUID | None = None
) -> None:
    """Publish ``event`` (confirmed) in answer to the command ``cause``; its id derived from the command's."""
    await publish_answer(deps.publisher, cause.id, cause.correlation_id, event, tenant_id, event_id)


async def publish_answer(
    publisher: Publisher,
    command_key: uuid.UUID | str,
    correlation_id: str,
    event: Payload,
    tenant_id: uuid.UUID | None,
    event_id: uuid.UUID | None = None,
) -> None:
    event_id = event_id or derived_id(event.TYPE, str(command_key))
    await publisher.publish(wrap(event, id=event_id, tenant_id=tenant_id, correlation_id=correlation_id))

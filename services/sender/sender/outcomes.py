"""A send's outcome, announced and then recorded: ``message.sent`` with Meta's wamid, or ``message.failed`` with
Meta's code. The event's id is derived from the send id: announced once in effect. The record comes after the
broker's confirm (one statement, no transaction around the publish): a crash or a failed publish between them
leaves the send 'sending', and its redelivery learns from Meta's statuses that it left and announces it again, under
the same id — as when a transaction around the publish failed to commit.
A business token Meta refused is announced as ``number.token_rejected``, once per (number, token)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from sender import store
from sender.tokens import BusinessToken
from shared.contracts.directory import NumberTokenRejected
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MarkRead, MessageFailed, MessageSent, SendMessage
from shared.graph.errors import GraphError, TokenInvalid
from shared.logging import get_logger
from shared.messaging.broker import Publisher

log = get_logger(__name__)


async def announce_sent(
    conn: asyncpg.Connection | asyncpg.Pool, publisher: Publisher, envelope: Envelope[SendMessage], wamid: str
) -> None:
    await publisher.publish(sent_event(envelope, wamid))
    await store.record_sent(conn, envelope.id, envelope.data, wamid)
    log.debug("send.sent", wamid=wamid)  # one per message: not at INFO (message.sent says it)


async def announce_all_sent(
    pool: asyncpg.Pool, publisher: Publisher, sent: Sequence[tuple[Envelope[SendMessage], str]]
) -> list[Exception | None]:
    """:func:`announce_sent` for several sends: announced together, then those announced recorded in one
    statement. Each one's outcome, in their order: an announcement that failed fails its send alone."""
    announced = await asyncio.gather(
        *(publisher.publish(sent_event(e, wamid)) for e, wamid in sent), return_exceptions=True
    )
    outcomes: list[Exception | None] = [a if isinstance(a, Exception) else None for a in announced]
    for failure in announced:
        if isinstance(failure, BaseException) and not isinstance(failure, Exception):
            raise failure  # a cancellation, not a failed publish
    recorded = [(e.id, e.data, wamid) for (e, wamid), outcome in zip(sent, outcomes, strict=True) if outcome is None]
    if recorded:
        try:
            await store.record_all_sent(pool, recorded)
        except Exception as exc:  # left 'sending': the redelivery learns from Meta's statuses that it left
            outcomes = [exc if outcome is None else outcome for outcome in outcomes]
    return outcomes


def sent_event(envelope: Envelope[SendMessage], wamid: str) -> Envelope[MessageSent | MessageFailed]:
    command = envelope.data
    sent = MessageSent(
        client_id=command.client_id,
        send_id=envelope.id,
        phone_number_id=command.phone_number_id,
        to=command.to,
        wamid=wamid,
        text=command.text,
        reply_to_wamid=command.reply_to_wamid,
        sent_at=datetime.now(UTC),
        sent_by=command.sent_by,
    )
    return _outcome(sent, envelope)


async def announce_failed(
    conn: asyncpg.Connection | asyncpg.Pool, publisher: Publisher, envelope: Envelope[SendMessage], error: GraphError
) -> None:
    command = envelope.data
    failed = MessageFailed(
        client_id=command.client_id,
        send_id=envelope.id,
        phone_number_id=command.phone_number_id,
        to=command.to,
        reply_to_wamid=command.reply_to_wamid,
        error_code=error.code,
        error_title=error.title,
        error_details=error.details,
    )
    await publisher.publish(_outcome(failed, envelope))
    await store.record_failed(conn, envelope.id, command, error)
    log.warning("send.failed", code=error.code, error=error.title)


async def announce_token_rejected(
    publisher: Publisher, envelope: Envelope[SendMessage] | Envelope[MarkRead], token: BusinessToken, error: GraphError
) -> None:
    """The directory suspends the number until its client connects it again. The id names the number and the
    token (by fingerprint): every send refused with that token announces the one event."""
    command = envelope.data
    rejected = NumberTokenRejected(
        client_id=command.client_id,
        phone_number_id=command.phone_number_id,
        code=error.code or 190,
        subcode=error.subcode,
        message=error.title,
    )
    event_id = derived_id(rejected.TYPE, command.phone_number_id, token.fingerprint)
    await publisher.publish(
        wrap(rejected, id=event_id, tenant_id=envelope.tenant_id, correlation_id=envelope.correlation_id)
    )
    log.warning("graph.business_token_rejected", waba_id=token.waba_id, token=token.fingerprint, code=error.code)


def business_token_refusal(error: GraphError) -> TokenInvalid:
    """What ``message.failed`` says of a send refused because its business token was."""
    return TokenInvalid(
        "Meta rejected the number's business token (expired or revoked): the client must connect the number again",
        code=error.code,
        subcode=error.subcode,
        details=error.details or error.title,
        http_status=error.http_status,
    )


def _outcome(event: MessageSent | MessageFailed, cause: Envelope[SendMessage]) -> Envelope[MessageSent | MessageFailed]:
    return wrap(
        event,
        id=derived_id(event.TYPE, str(cause.id)),
        tenant_id=cause.tenant_id,
        correlation_id=cause.correlation_id,
    )

"""sender handler: one ``message.send`` command, at most one WhatsApp message, one outcome event.

The command's envelope id is the idempotency key: a send already recorded is not sent again. Meta's limits
are taken before Meta enforces them (token buckets in PostgreSQL, shared by every replica); retryable Graph
errors come back later through the retry queues; permanent ones become ``message.failed`` with Meta's code.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from sender import store
from sender.limits import Limits
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MarkRead, MessageFailed, MessageSent, SendMessage
from shared.graph.client import GraphClient
from shared.graph.errors import GraphError, ReEngagementRequired, TokenInvalid
from shared.logging import get_logger
from shared.messaging.broker import Publisher
from shared.messaging.consumer import Retry

log = get_logger(__name__)
# Meta's customer-service window: free-form messages only within 24 h of the customer's last message.
CUSTOMER_WINDOW = timedelta(hours=24)
TOKEN_RETRY_S = 600
# How long Meta's statuses get to report an attempt whose answer we lost, before we send again.
UNKNOWN_ATTEMPT_SETTLE = timedelta(minutes=2)
# A part of a long reply waits for the part before it, but not for ever (one dead-lettered would hold the rest).
PART_ORDER_WAIT = timedelta(minutes=10)
# Meta shows "typing…" for at most 25 s; a late indicator would outlive the reply it announces.
TYPING_FRESH_S = 20


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    graph: GraphClient
    limits: Limits = field(default_factory=Limits)


async def send(envelope: Envelope[SendMessage], deps: Deps) -> None:
    command, send_id = envelope.data, envelope.id
    async with deps.pool.acquire() as conn:
        previous = await store.outcome(conn, send_id)
        if previous is not None and previous.state != "sending":
            log.info("send.duplicate", send_id=str(send_id))
            return
        if previous is not None:
            wamid = await _settle_unknown_attempt(conn, envelope, previous)
            if wamid is not None:
                return await _sent(conn, envelope, wamid, deps)
        await _previous_part_left(conn, envelope)
        last = command.customer_last_message_at
        if last is not None and datetime.now(UTC) - last > CUSTOMER_WINDOW:
            error = ReEngagementRequired("customer-service window closed: only a template may be sent", code=131047)
            return await _fail(conn, envelope, error, deps)
        wait_s = await store.take_tokens(conn, command.phone_number_id, command.to, deps.limits)
        if wait_s > 0:
            raise Retry("rate limit reached before Meta's", delay_s=wait_s, counts=False)
        await store.mark_sending(conn, send_id, command)
        try:
            wamid = await deps.graph.send_text(
                command.phone_number_id, command.to, command.text, command.reply_to_wamid, callback_data=str(send_id)
            )
        except GraphError as exc:
            if exc.http_status is not None:  # Meta answered: it does not have the message
                await store.forget_sending(conn, send_id)
            await _after_graph_error(conn, envelope, exc, deps)
            return
        await _sent(conn, envelope, wamid, deps)


async def _previous_part_left(conn: asyncpg.Connection, envelope: Envelope[SendMessage]) -> None:
    """Parts of one reply reach the customer in order: Meta keeps the order of what it accepted, so a part goes
    only once the part before it was sent (or failed for good)."""
    before = envelope.data.after_send_id
    if before is None or datetime.now(UTC) - envelope.occurred_at > PART_ORDER_WAIT:
        return
    previous = await store.outcome(conn, before)
    if previous is None or previous.state == "sending":
        raise Retry("the previous part of this reply has not left yet", delay_s=1, counts=False)


async def _after_graph_error(
    conn: asyncpg.Connection, envelope: Envelope[SendMessage], exc: GraphError, deps: Deps
) -> None:
    if isinstance(exc, TokenInvalid):
        # The app's token is wrong for every number: hold the messages (retry late, then the dead-letter
        # queue, replayable) rather than fail them, and make the operator see it.
        log.error("graph.token_invalid", code=exc.code, action="renew WAMUX_GRAPH_TOKEN, then replay")
        raise Retry(f"Graph token rejected: {exc}", delay_s=TOKEN_RETRY_S) from exc
    if exc.retryable:
        raise Retry(f"Graph: {exc}", delay_s=exc.retry_after_s * random.uniform(1.0, 2.0)) from exc
    await _fail(conn, envelope, exc, deps)


async def _settle_unknown_attempt(
    conn: asyncpg.Connection, envelope: Envelope[SendMessage], previous: store.SendState
) -> str | None:
    """An earlier attempt reached Meta but died before recording the answer (or timed out). Meta's statuses carry
    the send id back: found, the message left; still unknown, wait for them a while before sending again."""
    wamid = await store.wamid_meta_reported(conn, envelope.id)
    if wamid is not None:
        log.info("send.recovered", wamid=wamid)
        return wamid
    if datetime.now(UTC) - previous.started_at < UNKNOWN_ATTEMPT_SETTLE:
        raise Retry("an earlier attempt's outcome is unknown: waiting for Meta's statuses", delay_s=30, counts=False)
    log.warning("send.resending", reason="no status from Meta for the earlier attempt")
    return None


async def _sent(conn: asyncpg.Connection, envelope: Envelope[SendMessage], wamid: str, deps: Deps) -> None:
    command, send_id = envelope.data, envelope.id
    async with conn.transaction():
        await store.record_sent(conn, send_id, command, wamid)
        sent = MessageSent(
            client_id=command.client_id,
            send_id=send_id,
            phone_number_id=command.phone_number_id,
            to=command.to,
            wamid=wamid,
            text=command.text,
            reply_to_wamid=command.reply_to_wamid,
            sent_at=datetime.now(UTC),
        )
        await deps.publisher.publish(_outcome(sent, send_id, envelope))
    log.info("send.sent", wamid=wamid)


async def _fail(conn: asyncpg.Connection, envelope: Envelope[SendMessage], error: GraphError, deps: Deps) -> None:
    command = envelope.data
    async with conn.transaction():
        await store.record_failed(conn, envelope.id, command, error)
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
        await deps.publisher.publish(_outcome(failed, envelope.id, envelope))
    log.warning("send.failed", code=error.code, error=error.title)


def _outcome(
    event: MessageSent | MessageFailed, send_id: uuid.UUID, cause: Envelope[SendMessage]
) -> Envelope[MessageSent | MessageFailed]:
    return wrap(
        event,
        id=derived_id(event.TYPE, str(send_id)),
        tenant_id=cause.tenant_id,
        correlation_id=cause.correlation_id,
    )


async def mark_read(envelope: Envelope[MarkRead], deps: Deps) -> None:
    """Blue ticks and "typing…": a courtesy, so never retried and never allowed to delay a reply."""
    command = envelope.data
    age_s = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
    typing = command.typing and age_s < TYPING_FRESH_S
    async with deps.pool.acquire() as conn:
        if await store.take_number_token(conn, command.phone_number_id, deps.limits) > 0:
            log.info("mark_read.skipped", reason="number at its throughput limit")
            return
    try:
        await deps.graph.mark_read(command.phone_number_id, command.wamid, typing=typing)
    except GraphError as exc:
        log.info("mark_read.failed", code=exc.code, error=exc.title)

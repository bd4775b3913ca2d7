"""sender handler: one ``message.send`` command, at most one WhatsApp message, one outcome event.

The command's envelope id is the idempotency key: a send already recorded is not sent again. Meta's limits
are taken before Meta enforces them (token buckets in PostgreSQL, shared by every replica); retryable Graph
errors come back later through the retry queues; permanent ones become ``message.failed`` with Meta's code
(the decisions in :mod:`sender.retries`, the outcomes in :mod:`sender.outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from sender import retries, store
from sender.limits import Limits
from sender.outcomes import announce_failed, announce_sent, announce_token_rejected, business_token_refusal
from sender.tokens import BusinessToken, NumberTokens
from shared.contracts.envelope import Envelope
from shared.contracts.messages import MarkRead, SendMessage
from shared.graph.client import GraphClient
from shared.graph.errors import GraphError, ReEngagementRequired, TokenInvalid
from shared.logging import get_logger
from shared.messaging.broker import Publisher
from shared.messaging.consumer import Retry
from shared.secretbox import KeyRing

log = get_logger(__name__)
# Meta shows "typing…" for at most 25 s; a late indicator would outlive the reply it announces.
TYPING_FRESH_S = 20


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    graph: GraphClient
    limits: Limits = field(default_factory=Limits)
    tokens: NumberTokens = field(default_factory=lambda: NumberTokens(KeyRing.empty()))

    def graph_for(self, token: BusinessToken | None) -> GraphClient:
        return self.graph if token is None else self.graph.with_token(token.secret)


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
                return await announce_sent(conn, deps.publisher, envelope, wamid)
        await _previous_part_left(conn, envelope)
        if retries.window_closed(command.customer_last_message_at, datetime.now(UTC)):
            error = ReEngagementRequired("customer-service window closed: only a template may be sent", code=131047)
            return await announce_failed(conn, deps.publisher, envelope, error)
        wait_s = await store.take_tokens(conn, command.phone_number_id, command.to, deps.limits)
        if wait_s > 0:
            raise Retry("rate limit reached before Meta's", delay_s=wait_s, counts=False)
        token = await deps.tokens.for_number(conn, command.client_id, command.phone_number_id)
        await store.mark_sending(conn, send_id, command)
        try:
            wamid = await deps.graph_for(token).send_text(
                command.phone_number_id, command.to, command.text, command.reply_to_wamid, callback_data=str(send_id)
            )
        except GraphError as exc:
            if exc.http_status is not None:  # Meta answered: it does not have the message
                await store.forget_sending(conn, send_id)
            if token is not None and isinstance(exc, TokenInvalid):  # this client's token, not every number's
                deps.tokens.forget(command.client_id, command.phone_number_id)
                await announce_token_rejected(deps.publisher, envelope, token, exc)
                return await announce_failed(conn, deps.publisher, envelope, business_token_refusal(exc))
            await _after_graph_error(conn, envelope, exc, deps)
            return
        await announce_sent(conn, deps.publisher, envelope, wamid)


async def _previous_part_left(conn: asyncpg.Connection, envelope: Envelope[SendMessage]) -> None:
    """Parts of one reply reach the customer in order (see :func:`sender.retries.wait_for_previous_part`)."""
    before = envelope.data.after_send_id
    if before is None or not retries.keeps_part_order(envelope.occurred_at, datetime.now(UTC)):
        return
    retry = retries.wait_for_previous_part(await store.outcome(conn, before))
    if retry is not None:
        raise retry


async def _after_graph_error(
    conn: asyncpg.Connection, envelope: Envelope[SendMessage], exc: GraphError, deps: Deps
) -> None:
    retry = retries.retry_after(exc)
    if retry is None:
        return await announce_failed(conn, deps.publisher, envelope, exc)
    if isinstance(exc, TokenInvalid):
        log.error("graph.token_invalid", code=exc.code, action="renew WAMUX_GRAPH_TOKEN, then replay")
    raise retry from exc


async def _settle_unknown_attempt(
    conn: asyncpg.Connection, envelope: Envelope[SendMessage], previous: store.SendState
) -> str | None:
    """An earlier attempt reached Meta but died before recording the answer (or timed out). Meta's statuses carry
    the send id back: found, the message left; still unknown, wait for them a while before sending again."""
    wamid = await store.wamid_meta_reported(conn, envelope.id)
    if wamid is not None:
        log.info("send.recovered", wamid=wamid)
        return wamid
    retry = retries.wait_for_unknown_attempt(previous, datetime.now(UTC))
    if retry is not None:
        raise retry
    log.warning("send.resending", reason="no status from Meta for the earlier attempt")
    return None


async def mark_read(envelope: Envelope[MarkRead], deps: Deps) -> None:
    """Blue ticks and "typing…": a courtesy, so never retried and never allowed to delay a reply."""
    command = envelope.data
    age_s = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
    typing = command.typing and age_s < TYPING_FRESH_S
    async with deps.pool.acquire() as conn:
        if await store.take_number_token(conn, command.phone_number_id, deps.limits) > 0:
            log.info("mark_read.skipped", reason="number at its throughput limit")
            return
        token = await deps.tokens.for_number(conn, command.client_id, command.phone_number_id)
    try:
        await deps.graph_for(token).mark_read(command.phone_number_id, command.wamid, typing=typing)
    except GraphError as exc:
        log.info("mark_read.failed", code=exc.code, error=exc.title)
        if token is not None and isinstance(exc, TokenInvalid):
            deps.tokens.forget(command.client_id, command.phone_number_id)
            await announce_token_rejected(deps.publisher, envelope, token, exc)

"""ai-worker handler: one customer message in, one ``message.send`` command out, in the client's voice."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ai_worker import reads
from ai_worker.llm import LLMRefused, LLMUnavailable, ReplyWriter
from shared.broker import Publisher
from shared.consumer import Retry
from shared.envelope import Envelope, derived_id, wrap
from shared.logging import get_logger
from shared.messages import MarkRead, MessageReceived, ReplyPaused, SendMessage

log = get_logger(__name__)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    writer: ReplyWriter
    history_messages: int = 20


async def reply(envelope: Envelope[MessageReceived], deps: Deps) -> None:
    received = envelope.data
    turn = reads.customer_turn(received)
    if turn is None:
        log.info("reply.skipped", reason="nothing to answer", message_type=received.message_type)
        return
    async with deps.pool.acquire() as conn, reads.conversation_turn(conn, received):
        if not await reads.stored(conn, received):
            # The router publishes after its commit (outbox), so this only happens when the database the worker
            # reads lags the router's (a replica): answer once it has caught up, not without the message.
            raise Retry("message not visible in router.messages yet", delay_s=1)
        if await reads.newer_customer_message(conn, received):
            # A burst: the latest message's reply will read this one in its history, so answer once.
            log.info("reply.coalesced", wamid=received.wamid)
            return
        persona, policy = await reads.persona(conn, received)
        if policy == "pause_ai" and await reads.quota_spent(conn, received):
            return await _pause(received, envelope, deps)
        await _show_typing(received, envelope, deps)
        history = await reads.history(conn, received, turn, deps.history_messages)
        try:
            text = await deps.writer.write(persona, history)
        except LLMUnavailable as exc:
            raise Retry(f"LLM unavailable: {exc}") from exc  # growing delays: an outage lasts
        except LLMRefused as exc:
            raise Retry(f"LLM refused the request (check model and key): {exc}", delay_s=120) from exc
        # Every id below is derived from the customer's wamid: a redelivered message.received produces the same
        # commands and events, which the sender and other consumers recognise (the send is made once).
        await _publish(
            deps,
            envelope,
            SendMessage(
                client_id=received.client_id,
                phone_number_id=received.phone_number_id,
                to=received.wa_id,
                text=text,
                reply_to_wamid=received.wamid,
                customer_last_message_at=received.timestamp,
            ),
        )
        log.info("reply.written", wamid=received.wamid, chars=len(text))


async def _show_typing(received: MessageReceived, cause: Envelope[MessageReceived], deps: Deps) -> None:
    await _publish(
        deps,
        cause,
        MarkRead(client_id=received.client_id, phone_number_id=received.phone_number_id, wamid=received.wamid),
    )


async def _pause(received: MessageReceived, cause: Envelope[MessageReceived], deps: Deps) -> None:
    reason = "free conversations of the month used up; the client's policy pauses AI replies"
    await _publish(
        deps,
        cause,
        ReplyPaused(
            client_id=received.client_id,
            phone_number_id=received.phone_number_id,
            wa_id=received.wa_id,
            wamid=received.wamid,
            reason=reason,
        ),
    )
    log.info("reply.paused", wamid=received.wamid)


async def _publish(deps: Deps, cause: Envelope[MessageReceived], payload: SendMessage | MarkRead | ReplyPaused) -> None:
    received = cause.data
    await deps.publisher.publish(
        wrap(
            payload,
            id=derived_id(payload.TYPE, received.wamid),
            tenant_id=received.client_id,
            correlation_id=cause.correlation_id,
        )
    )

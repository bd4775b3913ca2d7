"""ai-worker handler: customer messages in, one reply per burst out, in the client's voice.

Each customer message is answered exactly once, by one reply that names the messages it answers (the ledger,
``ledger.py``): the newest unanswered message of a conversation answers every older unanswered one with it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from ai_worker import conversation, ledger, reads
from ai_worker.parts import split_reply
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MarkRead, MessageReceived, ReplyPaused, SendMessage
from shared.logging import get_logger
from shared.messaging.broker import Publisher
from shared.messaging.consumer import Retry
from shared.prompting import LLMRefused, LLMUnavailable, Persona, ReplyWriter, Turn

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    writer: ReplyWriter
    history_messages: int = 20
    # 0 answers at once; bootstrap() passes the setting (1000 ms by default, see ai_worker/settings.py).
    reply_burst_window_ms: int = 0


async def reply(envelope: Envelope[MessageReceived], deps: Deps) -> None:
    received = envelope.data
    if reads.customer_turn(received) is None:
        log.info("reply.skipped", reason="nothing to answer", message_type=received.message_type)
        return
    window_s = deps.reply_burst_window_ms / 1000
    async with reads.arrival(deps.pool, received, window_s) as (conn, arrived):
        if arrived.age_s is None:
            # The router publishes after its commit (outbox), so this only happens when the database the worker
            # reads lags the router's (a replica): answer once it has caught up, not without the message.
            raise Retry("message not visible in router_read.messages yet", delay_s=1)
        if not arrived.turn:
            # Another bubble of the same burst may be milliseconds away: show "typing…" now (unless no reply will
            # come), answer after a retry queue's delay (no sleep in a consumer), by when the burst's newest
            # message answers them all.
            arrived.known_persona(received)
            if not arrived.paused:
                await _show_typing(envelope, deps)
            wait_s = window_s - arrived.age_s
            log.info("reply.waiting", wamid=received.wamid, wait_s=round(wait_s, 3))
            raise Retry("inside the burst window: the rest of the burst may follow", delay_s=wait_s, counts=False)
        await _answer(conn, envelope, deps, arrived)


async def _answer(
    conn: asyncpg.Connection, envelope: Envelope[MessageReceived], deps: Deps, arrived: reads.Arrival
) -> None:
    received = envelope.data
    standing = await conversation.standing(conn, received, deps.history_messages)
    previous = standing.previous
    if previous is not None:
        if previous.trigger_wamid == received.wamid:
            # Recorded, then the worker died before (or while) publishing: the same ids again, sent once.
            await _publish_reply(previous, envelope, deps)
        log.info("reply.already_answered", wamid=received.wamid, by=previous.trigger_wamid)
        return
    waiting = standing.waiting
    if not waiting or waiting[-1].wamid != received.wamid:
        log.info("reply.already_answered", wamid=received.wamid, by="a business message the ai-worker did not write")
        return
    if standing.newer_pending:
        log.info("reply.coalesced", wamid=received.wamid)  # the newer message's reply answers this one too
        return
    answers = tuple(p.wamid for p in waiting)
    persona = arrived.known_persona(received)
    if arrived.paused:
        paused = ledger.Reply(ledger.reply_id(received.wamid, "paused"), received.wamid, "paused", answers)
        await ledger.record(conn, received, paused)
        await _publish_reply(paused, envelope, deps)
        log.info("reply.paused", wamid=received.wamid, answers=list(answers))
        return
    # "typing…" while the model writes; confirmed before anything is recorded, so it is published before the reply.
    text = await _beside(_show_typing(envelope, deps), _write(deps, persona, standing.history(deps.history_messages)))
    written = ledger.Reply(
        ledger.reply_id(received.wamid, "reply"),
        received.wamid,
        "reply",
        answers,
        tuple(split_reply(text)),
        text,
        personality_version=persona.version,
    )
    await ledger.record(conn, received, written)  # committed before anything is published
    await _publish_reply(written, envelope, deps)
    log.info("reply.written", wamid=received.wamid, chars=len(text), parts=len(written.parts), answers=list(answers))


async def _write(deps: Deps, persona: Persona, history: list[Turn]) -> str:
    try:
        return await deps.writer.write(persona, history)
    except LLMUnavailable as exc:
        raise Retry(f"LLM unavailable: {exc}") from exc  # growing delays: an outage lasts
    except LLMRefused as exc:
        raise Retry(f"LLM refused the request (check model and key): {exc}", delay_s=120) from exc


async def _beside(side: Awaitable[None], main: Awaitable[T]) -> T:
    """``main``'s result, with ``side`` run meanwhile and finished before it returns; ``main``'s failure is the one
    raised when both fail (the model's outage is a Retry, a failed publish a retry with growing delays)."""
    task = asyncio.ensure_future(side)
    try:
        result = await main
    except BaseException:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the failure that counts is main's
        raise
    await task
    return result


async def _publish_reply(recorded: ledger.Reply, cause: Envelope[MessageReceived], deps: Deps) -> None:
    received = cause.data
    if recorded.kind == "paused":
        reason = "free conversations of the month used up; the client's policy pauses AI replies"
        event = ReplyPaused(
            client_id=received.client_id,
            phone_number_id=received.phone_number_id,
            wa_id=received.wa_id,
            wamid=recorded.trigger_wamid,
            reason=reason,
        )
        return await _publish(deps, cause, event, recorded.id)
    # In order: each part names the one before it, which the sender sends first; only the first quotes the customer.
    previous: uuid.UUID | None = None
    for part, (send_id, text) in enumerate(zip(recorded.send_ids(), recorded.parts, strict=True), start=1):
        command = SendMessage(
            client_id=received.client_id,
            phone_number_id=received.phone_number_id,
            to=received.wa_id,
            text=text,
            reply_to_wamid=recorded.trigger_wamid if part == 1 else None,
            customer_last_message_at=received.timestamp,
            answers=recorded.answers,
            after_send_id=previous,
        )
        await _publish(deps, cause, command, send_id)
        previous = send_id


async def _show_typing(cause: Envelope[MessageReceived], deps: Deps) -> None:
    received = cause.data
    mark = MarkRead(client_id=received.client_id, phone_number_id=received.phone_number_id, wamid=received.wamid)
    await _publish(deps, cause, mark, derived_id(MarkRead.TYPE, received.wamid))


async def _publish(
    deps: Deps, cause: Envelope[MessageReceived], payload: SendMessage | MarkRead | ReplyPaused, id: uuid.UUID
) -> None:
    await deps.publisher.publish(
        wrap(payload, id=id, tenant_id=cause.data.client_id, correlation_id=cause.correlation_id)
    )

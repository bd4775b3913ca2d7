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
from shared.messaging.consumer import Retry, outcome_of
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
    """One customer message: its conversation's turn waited for (the route's handler, and a batch's fallback)."""
    [outcome] = await _replies([envelope], deps, wait=True)
    if outcome is not None:
        raise outcome


async def replies(envelopes: list[Envelope[MessageReceived]], deps: Deps) -> list[Exception | None]:
    """A batch's customer messages at once (the route's ``many``): one connection, one statement each to find
    them, to read where they stand and to record their replies, the model writing them all at the same time.
    A message whose conversation's turn another connection holds is answered alone once the batch's turns are
    given back. Each one's outcome: ``None`` when done, else what :func:`reply` would have raised. An envelope
    delivered twice in one batch is answered once, both deliveries sharing its outcome."""
    first = {e.id: n for n, e in reversed(list(enumerate(envelopes)))}
    unique = [envelopes[n] for n in sorted(first.values())]
    outcomes = dict(zip((e.id for e in unique), await _replies(unique, deps, wait=len(unique) == 1), strict=True))
    return [outcomes[e.id] for e in envelopes]


async def _replies(envelopes: list[Envelope[MessageReceived]], deps: Deps, *, wait: bool) -> list[Exception | None]:
    outcomes: list[Exception | None] = [None] * len(envelopes)
    asked = []
    for n, envelope in enumerate(envelopes):
        if reads.customer_turn(envelope.data) is None:
            log.info("reply.skipped", reason="nothing to answer", message_type=envelope.data.message_type)
        else:
            asked.append(n)
    window_s = deps.reply_burst_window_ms / 1000
    busy: list[int] = []
    if asked:
        arriving = reads.arrivals(deps.pool, [envelopes[n].data for n in asked], window_s, wait=wait)
        async with arriving as (conn, arrivals):
            turns: list[tuple[int, reads.Arrival]] = []
            early: list[tuple[int, Awaitable[None]]] = []
            for n, arrived in zip(asked, arrivals, strict=True):
                if arrived.busy:
                    busy.append(n)
                elif arrived.age_s is None or not arrived.turn:
                    early.append((n, _too_early(envelopes[n], deps, arrived, window_s)))
                else:
                    turns.append((n, arrived))
            answered, waited = await asyncio.gather(
                _answer_all(conn, [(envelopes[n], arrived) for n, arrived in turns], deps),
                asyncio.gather(*(outcome_of(wait_) for _, wait_ in early)),
            )
            for (n, _), outcome in zip([*turns, *early], [*answered, *waited], strict=True):
                outcomes[n] = outcome
    for n in busy:  # now that this batch's turns are given back
        outcomes[n] = await outcome_of(reply(envelopes[n], deps))
    return outcomes


async def _too_early(envelope: Envelope[MessageReceived], deps: Deps, arrived: reads.Arrival, window_s: float) -> None:
    received = envelope.data
    if arrived.age_s is None:
        # The router publishes after its commit (outbox), so this only happens when the database the worker
        # reads lags the router's (a replica): answer once it has caught up, not without the message.
        raise Retry("message not visible in router_read.messages yet", delay_s=1)
    # Another bubble of the same burst may be milliseconds away: show "typing…" now (unless no reply will
    # come), answer after a retry queue's delay (no sleep in a consumer), by when the burst's newest
    # message answers them all.
    arrived.known_persona(received)
    if not arrived.paused:
        await _show_typing(envelope, deps)
    wait_s = window_s - arrived.age_s
    log.info("reply.waiting", wamid=received.wamid, wait_s=round(wait_s, 3))
    raise Retry("inside the burst window: the rest of the burst may follow", delay_s=wait_s, counts=False)


async def _answer_all(
    conn: asyncpg.Connection, turns: list[tuple[Envelope[MessageReceived], reads.Arrival]], deps: Deps
) -> list[Exception | None]:
    """The messages whose turns are held: where they stand, their replies written, recorded, then published."""
    if not turns:
        return []
    standings = await conversation.standings(conn, [e.data for e, _ in turns], deps.history_messages)
    decided = await asyncio.gather(
        *(
            outcome_of(_decide(e, deps, arrived, standing))
            for (e, arrived), standing in zip(turns, standings, strict=True)
        )
    )
    outcomes: list[Exception | None] = [d if isinstance(d, Exception) else None for d in decided]
    to_record = [(n, r) for n, r in enumerate(decided) if isinstance(r, ledger.Reply)]
    for n, failure in await _record(conn, [(turns[n][0].data, r) for n, r in to_record]):
        outcomes[to_record[n][0]] = failure
    recorded = [(n, r) for n, r in to_record if outcomes[n] is None]
    published = await asyncio.gather(*(outcome_of(_publish_recorded(r, turns[n][0], deps)) for n, r in recorded))
    for (n, _), outcome in zip(recorded, published, strict=True):
        outcomes[n] = outcome
    return outcomes


async def _decide(
    envelope: Envelope[MessageReceived], deps: Deps, arrived: reads.Arrival, standing: conversation.Standing
) -> ledger.Reply | None:
    """What this message's turn gives: nothing (answered already, or by a newer message), or a reply to record."""
    received = envelope.data
    previous = standing.previous
    if previous is not None:
        if previous.trigger_wamid == received.wamid:
            # Recorded, then the worker died before (or while) publishing: the same ids again, sent once.
            await _publish_reply(previous, envelope, deps)
        log.info("reply.already_answered", wamid=received.wamid, by=previous.trigger_wamid)
        return None
    waiting = standing.waiting
    if not waiting or waiting[-1].wamid != received.wamid:
        log.info("reply.already_answered", wamid=received.wamid, by="a business message the ai-worker did not write")
        return None
    if standing.newer_pending:
        log.info("reply.coalesced", wamid=received.wamid)  # the newer message's reply answers this one too
        return None
    answers = tuple(p.wamid for p in waiting)
    persona = arrived.known_persona(received)
    if arrived.paused:
        return ledger.Reply(ledger.reply_id(received.wamid, "paused"), received.wamid, "paused", answers)
    # "typing…" while the model writes; confirmed before anything is recorded, so it is published before the reply.
    text = await _beside(_show_typing(envelope, deps), _write(deps, persona, standing.history(deps.history_messages)))
    return ledger.Reply(
        ledger.reply_id(received.wamid, "reply"),
        received.wamid,
        "reply",
        answers,
        tuple(split_reply(text)),
        text,
        personality_version=persona.version,
    )


async def _record(
    conn: asyncpg.Connection, replies: list[tuple[MessageReceived, ledger.Reply]]
) -> list[tuple[int, Exception]]:
    """Every reply recorded (committed before anything is published) in one statement; if PostgreSQL refuses it,
    each alone, so that only a reply it refuses fails. Returns those that failed, by position; a lost connection
    fails them all (raised)."""
    if not replies:
        return []
    try:
        await ledger.record_all(conn, replies)
        return []
    except asyncpg.PostgresConnectionError:
        raise
    except asyncpg.PostgresError as exc:
        if len(replies) == 1:
            return [(0, exc)]
    failed: list[tuple[int, Exception]] = []
    for n, (received, written) in enumerate(replies):
        try:
            await ledger.record(conn, received, written)
        except asyncpg.PostgresError as exc:
            failed.append((n, exc))
    return failed


async def _publish_recorded(recorded: ledger.Reply, cause: Envelope[MessageReceived], deps: Deps) -> None:
    await _publish_reply(recorded, cause, deps)
    wamid, answers = cause.data.wamid, list(recorded.answers)
    if recorded.kind == "paused":
        log.info("reply.paused", wamid=wamid, answers=answers)
    else:
        chars, parts = len(recorded.text or ""), len(recorded.parts)
        log.info("reply.written", wamid=wamid, chars=chars, parts=parts, answers=answers)


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

"""sender handler: one ``message.send`` command, at most one WhatsApp message, one outcome event.

The command's envelope id is the idempotency key: a send already recorded is not sent again. Meta's limits
are taken before Meta enforces them (token buckets in PostgreSQL, shared by every replica); retryable Graph
errors come back later through the retry queues; permanent ones become ``message.failed`` with Meta's code
(the decisions in :mod:`sender.retries`, the outcomes in :mod:`sender.outcomes`).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from sender import retries, store
from sender.limits import Limits
from sender.outcomes import (
    announce_all_sent,
    announce_failed,
    announce_sent,
    announce_token_rejected,
    business_token_refusal,
)
from sender.receipts import ReceiptTokens
from sender.tokens import BusinessToken, NumberTokens
from shared.contracts.envelope import Envelope
from shared.contracts.messages import MarkRead, SendMessage
from shared.graph.client import GraphClient
from shared.graph.errors import GraphError, ReEngagementRequired, TokenInvalid
from shared.logging import get_logger
from shared.messaging.broker import Publisher
from shared.messaging.consumer import Retry, outcome_of
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
    receipts: ReceiptTokens = field(init=False)  # read receipts' throughput tokens, asked together

    def __post_init__(self) -> None:
        object.__setattr__(self, "receipts", ReceiptTokens(self.pool, self.limits))

    def graph_for(self, token: BusinessToken | None) -> GraphClient:
        return self.graph if token is None else self.graph.with_token(token.secret)


async def send(envelope: Envelope[SendMessage], deps: Deps) -> None:
    now = datetime.now(UTC)
    async with deps.pool.acquire() as conn:
        claim = await _claim(conn, envelope, deps, now)
        wamid = await _claimed(conn, envelope, deps, claim, now)
        if wamid is not None:
            await announce_sent(conn, deps.publisher, envelope, wamid)


async def sends(envelopes: list[Envelope[SendMessage]], deps: Deps) -> list[Exception | None]:
    """A batch's sends at once (the route's ``many``): claimed in one round trip, sent to Meta at the same time,
    announced together and recorded in one statement. Past the claim each goes on as :func:`send` would, on the
    pool (a connection per statement: none is held while Meta answers). Each one's outcome: ``None`` when done,
    else what :func:`send` would have raised."""
    now = datetime.now(UTC)
    asked = [store.Asked(e.id, e.data, _part_waited_for(e, now), _window_open(e.data, now)) for e in envelopes]
    async with deps.pool.acquire() as conn:
        claims = await _claim_all(conn, asked, deps)
    results = await asyncio.gather(
        *(outcome_of(_claimed(deps.pool, e, deps, claim, now)) for e, claim in zip(envelopes, claims, strict=True))
    )
    outcomes: list[Exception | None] = [r if isinstance(r, Exception) else None for r in results]
    left = [(n, envelopes[n], wamid) for n, wamid in enumerate(results) if isinstance(wamid, str)]
    announced = await announce_all_sent(deps.pool, deps.publisher, [(e, wamid) for _, e, wamid in left])
    for (n, _, _), outcome in zip(left, announced, strict=True):
        outcomes[n] = outcome
    return outcomes


async def _claim_all(conn: asyncpg.Connection, asked: list[store.Asked], deps: Deps) -> list[store.Claim]:
    """The batch's claims in one transaction, number by number and customer by customer (each in arrival order),
    so that batches beside each other take their buckets' locks in one order. They can still meet the other way
    round (a customer's bucket, then the number's, in each claim): PostgreSQL then ends one of them, whose claims
    are taken again one at a time, each a transaction of its own, as :func:`send` takes its claim."""
    order = sorted(range(len(asked)), key=lambda n: (asked[n].command.phone_number_id, asked[n].command.to))
    try:
        claimed = await store.claim_all(conn, [asked[n] for n in order], deps.limits)
    except asyncpg.TransactionRollbackError:  # a deadlock with another batch's claims: nothing of this one kept
        log.info("send.claims_one_at_a_time", sends=len(asked))
        claimed = [
            await store.claim(
                conn, a.send_id, a.command, deps.limits, after_send_id=a.after_send_id, window_open=a.window_open
            )
            for a in (asked[n] for n in order)
        ]
    claims: list[store.Claim | None] = [None] * len(asked)
    for n, claim in zip(order, claimed, strict=True):
        claims[n] = claim
    return [c for c in claims if c is not None]


async def _claimed(
    conn: asyncpg.Connection | asyncpg.Pool,
    envelope: Envelope[SendMessage],
    deps: Deps,
    claim: store.Claim,
    now: datetime,
) -> str | None:
    """A send once claimed: the wamid Meta gave it, still to announce; None when it is settled otherwise."""
    command, send_id = envelope.data, envelope.id
    if claim.earlier is not None:
        if claim.earlier.state != "sending":
            log.info("send.duplicate", send_id=str(send_id))
            return None
        wamid = await _settle_unknown_attempt(conn, envelope, claim.earlier)
        if wamid is not None:
            return wamid
        claim = await _claim(conn, envelope, deps, now, resend=True)
    if not claim.claimed:
        await _held_back(conn, envelope, claim, deps, now)
        return None
    try:
        token = await deps.tokens.for_number(conn, command.client_id, command.phone_number_id)
    except Retry:
        await store.forget_sending(conn, send_id)  # Meta was not called: nothing of it may be left behind
        raise
    try:
        return await deps.graph_for(token).send_text(
            command.phone_number_id, command.to, command.text, command.reply_to_wamid, callback_data=str(send_id)
        )
    except GraphError as exc:
        if exc.http_status is not None:  # Meta answered: it does not have the message
            await store.forget_sending(conn, send_id)
        if token is not None and isinstance(exc, TokenInvalid):  # this client's token, not every number's
            deps.tokens.forget(command.client_id, command.phone_number_id)
            await announce_token_rejected(deps.publisher, envelope, token, exc)
            await announce_failed(conn, deps.publisher, envelope, business_token_refusal(exc))
            return None
        await _after_graph_error(conn, envelope, exc, deps)
        return None


def _part_waited_for(envelope: Envelope[SendMessage], now: datetime) -> uuid.UUID | None:
    """Parts of one reply reach the customer in order (see :func:`sender.retries.wait_for_previous_part`)."""
    before = envelope.data.after_send_id
    return before if before is not None and retries.keeps_part_order(envelope.occurred_at, now) else None


def _window_open(command: SendMessage, now: datetime) -> bool:
    return not retries.window_closed(command.customer_last_message_at, now)


async def _claim(
    conn: asyncpg.Connection | asyncpg.Pool,
    envelope: Envelope[SendMessage],
    deps: Deps,
    now: datetime,
    *,
    resend: bool = False,
) -> store.Claim:
    return await store.claim(
        conn,
        envelope.id,
        envelope.data,
        deps.limits,
        after_send_id=_part_waited_for(envelope, now),
        window_open=_window_open(envelope.data, now),
        resend=resend,
    )


async def _held_back(
    conn: asyncpg.Connection | asyncpg.Pool,
    envelope: Envelope[SendMessage],
    claim: store.Claim,
    deps: Deps,
    now: datetime,
) -> None:
    """Why a send was not claimed, asked in the claim's order: the part before it, the customer-service window,
    Meta's limits, and last another delivery of the same send that claimed it first."""
    if _part_waited_for(envelope, now) is not None:
        retry = retries.wait_for_previous_part(claim.previous)
        if retry is not None:
            raise retry
    if not _window_open(envelope.data, now):
        error = ReEngagementRequired("customer-service window closed: only a template may be sent", code=131047)
        return await announce_failed(conn, deps.publisher, envelope, error)
    if claim.wait_s > 0:
        raise Retry("rate limit reached before Meta's", delay_s=claim.wait_s, counts=False)
    raise Retry("another delivery of this send is under way", delay_s=30, counts=False)


async def _after_graph_error(
    conn: asyncpg.Connection | asyncpg.Pool, envelope: Envelope[SendMessage], exc: GraphError, deps: Deps
) -> None:
    retry = retries.retry_after(exc)
    if retry is None:
        return await announce_failed(conn, deps.publisher, envelope, exc)
    if isinstance(exc, TokenInvalid):
        log.error("graph.token_invalid", code=exc.code, action="renew WAMUX_GRAPH_TOKEN, then replay")
    raise retry from exc


async def _settle_unknown_attempt(
    conn: asyncpg.Connection | asyncpg.Pool, envelope: Envelope[SendMessage], previous: store.SendState
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
    if await deps.receipts.take(command.phone_number_id) > 0:
        log.info("mark_read.skipped", reason="number at its throughput limit")
        return
    token = await deps.tokens.for_number(deps.pool, command.client_id, command.phone_number_id)
    try:
        await deps.graph_for(token).mark_read(command.phone_number_id, command.wamid, typing=typing)
    except GraphError as exc:
        log.info("mark_read.failed", code=exc.code, error=exc.title)
        if token is not None and isinstance(exc, TokenInvalid):
            deps.tokens.forget(command.client_id, command.phone_number_id)
            await announce_token_rejected(deps.publisher, envelope, token, exc)

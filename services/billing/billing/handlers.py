"""billing handlers: conversation windows and each number's monthly free-conversation counter.

A conversation is a 24-hour window per (client, number, customer), opened by the first business message when
none is open. Each opened window uses one of the number's free conversations for the client's month (in the
client's timezone); past the quota it counts as paid, and ``quota.exhausted`` tells the CRM once. Everything is
counted for the event's tenant: when a number moves, its new owner starts from its own quota and the previous
owner keeps its month (a window the previous owner opened is not the new owner's).
Every effect opens the same way (:func:`shared.messaging.inbox.effect_per_envelope`): the envelope id recorded in
the effect's transaction, the effect only the first time — redelivery changes nothing. Each is written once for
both ways it runs: called as a handler (a transaction of its own) or as its route's ``batch_effect`` (a savepoint in
the batch's transaction, in arrival order, so an effect sees the counters the ones before it wrote). What an effect
publishes it stages on ``out``: published and confirmed before the commit, with derived ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from billing import numbers, store
from billing.quota import conversation_opened, quota_exhausted
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import (
    ConversationOpened,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    QuotaExhausted,
)
from shared.logging import get_logger
from shared.messaging import inbox
from shared.messaging.batch import Outgoing
from shared.messaging.broker import Publisher
from shared.messaging.consumer import Retry

log = get_logger(__name__)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher


@inbox.effect_per_envelope("billing")
async def count_inbound(
    envelope: Envelope[MessageReceived], deps: Deps, conn: asyncpg.Connection, out: Outgoing
) -> None:
    received = envelope.data
    number, month = await _number_and_month(conn, out, received.client_id, received.phone_number_id, received.timestamp)
    await _add_usage(conn, out, number, month, messages_in=1)


@inbox.effect_per_envelope("billing")
async def count_outbound(envelope: Envelope[MessageSent], deps: Deps, conn: asyncpg.Connection, out: Outgoing) -> None:
    sent = envelope.data
    number, month = await _number_and_month(conn, out, sent.client_id, sent.phone_number_id, sent.sent_at)
    if out.can_defer:
        # The month's counters are stored at the batch's end, so nothing locks their row before they are read below:
        # another replica's batch deciding free or paid for this number waits here instead (taken before the
        # window's lock, as every batch takes them, so two batches cannot each hold what the other waits for).
        await store.lock_month(conn, number, month, out.memo)
    await store.lock_window(conn, number, sent.to)
    await _add_usage(conn, out, number, month, messages_out=1)
    if await store.open_window_exists(conn, number, sent.to, sent.sent_at):
        return
    so_far = await store.usage(conn, number, month, out.memo.get(store.PENDING_USAGE, ()))
    opened = conversation_opened(number, so_far, sent, month)
    await store.open_conversation(conn, opened, sent.wamid)
    free = opened.free
    await _add_usage(conn, out, number, month, conversations=1, free_used=int(free), paid=int(not free))
    out.publish(_event(envelope, opened, derived_id(opened.TYPE, sent.wamid)))
    log.info("conversation.opened", free=free, free_remaining=opened.free_remaining)
    exhausted = quota_exhausted(number, opened)
    if exhausted is not None:
        # Once per client, number and month: a number's next owner exhausting it the same month is news too.
        exhausted_id = derived_id(exhausted.TYPE, str(number.client_id), sent.phone_number_id, str(month))
        out.publish(_event(envelope, exhausted, exhausted_id))


def _worth_recording(envelope: Envelope[MessageStatusChanged]) -> bool:
    """Nothing to count or keep (a ``sent`` or ``read`` without Meta's pricing): no transaction, no dedup record."""
    status = envelope.data
    return status.status == "delivered" or status.conversation is not None or status.pricing is not None


@inbox.effect_per_envelope("billing", only_if=_worth_recording)
async def record_status(
    envelope: Envelope[MessageStatusChanged], deps: Deps, conn: asyncpg.Connection, out: Outgoing
) -> None:
    """Count what Meta delivered and keep its conversation/pricing data to reconcile against our count."""
    status = envelope.data
    if status.conversation is not None or status.pricing is not None:
        # In a batch's first pass every status's in one statement at its end: nothing in the batch reads them.
        await out.together(conn, "billing.meta_pricing", store.insert_meta_pricing, [status])
    if status.status == "delivered":
        number, month = await _number_and_month(conn, out, status.client_id, status.phone_number_id, status.timestamp)
        await _add_usage(conn, out, number, month, delivered=1)


async def _add_usage(
    conn: asyncpg.Connection, out: Outgoing, number: numbers.Number, month: date, **added: int
) -> None:
    """At once, or in a batch's first pass with every other effect's in one statement at its end (the effects after
    this one read it through ``store.usage``'s ``pending``)."""
    delta = store.UsageDelta(number.client_id, number.phone_number_id, month, **added)
    await out.together(conn, store.PENDING_USAGE, store.add_usage, [delta])


async def _number_and_month(
    conn: asyncpg.Connection, out: Outgoing, client_id: uuid.UUID, phone_number_id: str, moment: datetime
) -> tuple[numbers.Number, date]:
    found = await numbers.number(conn, client_id, phone_number_id, moment, out.memo)
    if found is None:
        raise Retry(f"number {phone_number_id} of client {client_id} not in the directory", delay_s=30)
    return found


def _event(
    cause: Envelope[Any], event: ConversationOpened | QuotaExhausted, event_id: uuid.UUID
) -> Envelope[ConversationOpened | QuotaExhausted]:
    return wrap(event, id=event_id, tenant_id=event.client_id, correlation_id=cause.correlation_id)

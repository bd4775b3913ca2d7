"""billing handlers: conversation windows and each number's monthly free-conversation counter.

A conversation is a 24-hour window per (client, number, customer), opened by the first business message when
none is open. Each opened window uses one of the number's free conversations for the client's month (in the
client's timezone); past the quota it counts as paid, and ``quota.exhausted`` tells the CRM once. Everything is
counted for the event's tenant: when a number moves, its new owner starts from its own quota and the previous
owner keeps its month (a window the previous owner opened is not the new owner's).
Every handler records the envelope id in the same transaction as its effect: redelivery changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from billing import store
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import (
    ConversationOpened,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    QuotaExhausted,
)
from shared.logging import get_logger
from shared.messaging.broker import Publisher
from shared.messaging.consumer import Retry

log = get_logger(__name__)
CONVERSATION_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher


async def count_inbound(envelope: Envelope[MessageReceived], deps: Deps) -> None:
    received = envelope.data
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.first_time(conn, envelope.id):
            return
        number = await _number(conn, received.client_id, received.phone_number_id)
        month = await store.month_of(conn, received.timestamp, number.timezone)
        await store.add_usage(conn, number, month, messages_in=1)


async def count_outbound(envelope: Envelope[MessageSent], deps: Deps) -> None:
    sent = envelope.data
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.first_time(conn, envelope.id):
            return
        number = await _number(conn, sent.client_id, sent.phone_number_id)
        await store.lock_window(conn, number, sent.to)
        month = await store.month_of(conn, sent.sent_at, number.timezone)
        await store.add_usage(conn, number, month, messages_out=1)
        if await store.open_window_exists(conn, number, sent.to, sent.sent_at):
            return
        usage = await store.usage(conn, number, month)
        free = usage.free_used < number.free_quota
        opened = ConversationOpened(
            client_id=number.client_id,
            phone_number_id=sent.phone_number_id,
            wa_id=sent.to,
            opened_at=sent.sent_at,
            expires_at=sent.sent_at + CONVERSATION_WINDOW,
            month=month,
            free=free,
            free_remaining=max(number.free_quota - usage.free_used - (1 if free else 0), 0),
        )
        await store.open_conversation(conn, opened, sent.wamid)
        await store.add_usage(conn, number, month, conversations=1, free_used=int(free), paid=int(not free))
        await _publish(deps, envelope, opened, derived_id(opened.TYPE, sent.wamid))
        log.info("conversation.opened", free=free, free_remaining=opened.free_remaining)
        if free and opened.free_remaining == 0:
            exhausted = QuotaExhausted(
                client_id=number.client_id,
                phone_number_id=sent.phone_number_id,
                month=month,
                free_quota=number.free_quota,
                policy=number.quota_policy,
            )
            # Once per client, number and month: a number's next owner exhausting it the same month is news too.
            exhausted_id = derived_id(exhausted.TYPE, str(number.client_id), sent.phone_number_id, str(month))
            await _publish(deps, envelope, exhausted, exhausted_id)


async def record_status(envelope: Envelope[MessageStatusChanged], deps: Deps) -> None:
    """Count what Meta delivered and keep its conversation/pricing data to reconcile against our count."""
    status = envelope.data
    delivered = status.status == "delivered"
    if not delivered and status.conversation is None and status.pricing is None:
        return
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.first_time(conn, envelope.id):
            return
        if status.conversation is not None or status.pricing is not None:
            await store.insert_meta_pricing(conn, status)
        if delivered:
            number = await _number(conn, status.client_id, status.phone_number_id)
            month = await store.month_of(conn, status.timestamp, number.timezone)
            await store.add_usage(conn, number, month, delivered=1)


async def _number(conn: asyncpg.Connection, client_id: uuid.UUID, phone_number_id: str) -> store.Number:
    number = await store.number(conn, client_id, phone_number_id)
    if number is None:
        raise Retry(f"number {phone_number_id} of client {client_id} not in the directory", delay_s=30)
    return number


async def _publish(
    deps: Deps, cause: Envelope[MessageSent], event: ConversationOpened | QuotaExhausted, event_id: object
) -> None:
    await deps.publisher.publish(
        wrap(event, id=event_id, tenant_id=event.client_id, correlation_id=cause.correlation_id)  # type: ignore[arg-type]
    )

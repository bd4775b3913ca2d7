"""billing handlers: conversation windows and each number's monthly free-conversation counter.

A conversation is a 24-hour window per (number, customer), opened by the first business message when none
is open. Each opened window uses one of the number's free conversations for the month (the month in the
client's timezone); past the quota it counts as paid, and ``quota.exhausted`` tells the CRM once.
Every handler records the envelope id in the same transaction as its effect: redelivery changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from billing import store
from shared.broker import Publisher
from shared.consumer import Retry
from shared.envelope import Envelope, derived_id, wrap
from shared.logging import get_logger
from shared.messages import ConversationOpened, MessageReceived, MessageSent, MessageStatusChanged, QuotaExhausted

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
        number = await store.number(conn, received.phone_number_id)
        if number is None:
            raise Retry(f"number {received.phone_number_id} not in the directory", delay_s=30)
        month = await store.month_of(conn, received.timestamp, number.timezone)
        await store.add_usage(conn, number, month, messages_in=1)


async def count_outbound(envelope: Envelope[MessageSent], deps: Deps) -> None:
    sent = envelope.data
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.first_time(conn, envelope.id):
            return
        number = await store.number(conn, sent.phone_number_id)
        if number is None:
            raise Retry(f"number {sent.phone_number_id} not in the directory", delay_s=30)
        await store.lock_window(conn, sent.phone_number_id, sent.to)
        month = await store.month_of(conn, sent.sent_at, number.timezone)
        await store.add_usage(conn, number, month, messages_out=1)
        if await store.open_window_exists(conn, sent.phone_number_id, sent.to, sent.sent_at):
            return
        usage = await store.usage(conn, sent.phone_number_id, month)
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
            await _publish(deps, envelope, exhausted, derived_id(exhausted.TYPE, sent.phone_number_id, str(month)))


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
            number = await store.number(conn, status.phone_number_id)
            if number is None:
                raise Retry(f"number {status.phone_number_id} not in the directory", delay_s=30)
            month = await store.month_of(conn, status.timestamp, number.timezone)
            await store.add_usage(conn, number, month, delivered=1)


async def _publish(
    deps: Deps, cause: Envelope[MessageSent], event: ConversationOpened | QuotaExhausted, event_id: object
) -> None:
    await deps.publisher.publish(
        wrap(event, id=event_id, tenant_id=event.client_id, correlation_id=cause.correlation_id)  # type: ignore[arg-type]
    )

"""Conversation windows and free-conversation counters, with the real database and broker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from billing.handlers import Deps, count_inbound, count_outbound, record_status
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MessageReceived, MessageSent, MessageStatusChanged, MetaConversation, MetaPricing
from shared.messaging.batch import Outgoing
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import new_wamid
from tests.support.tenants import Tenant, move_tenant_number

CUSTOMER = "573001112233"


def sent(tenant: Tenant, at: datetime, to: str = CUSTOMER) -> Envelope[MessageSent]:
    return wrap(
        MessageSent(
            client_id=tenant.client_id,
            send_id=uuid.uuid4(),
            phone_number_id=tenant.phone_number_id,
            to=to,
            wamid=new_wamid(),
            text="hola",
            sent_at=at,
        ),
        correlation_id="c",
        tenant_id=tenant.client_id,
    )


async def usage(infra: Infrastructure, tenant: Tenant) -> dict:  # type: ignore[type-arg]
    rows = await infra.pool.fetch(
        "SELECT month, conversations, free_used, paid, messages_in, messages_out, delivered FROM billing.usage"
        " WHERE phone_number_id = $1 ORDER BY month",
        tenant.phone_number_id,
    )
    return {r["month"].isoformat(): dict(r) for r in rows}


async def test_first_business_message_opens_one_conversation_and_later_ones_ride_it(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    deps = Deps(infra.pool, infra.publisher)
    start = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    for minutes in (0, 30, 60 * 23):
        await count_outbound(sent(tenant, start + timedelta(minutes=minutes)), deps)
    (opened,) = await tap.wait_for("conversation.opened")
    assert opened["data"]["free"] is True and opened["data"]["free_remaining"] == 999
    assert (await usage(infra, tenant))["2026-11-01"] == {
        "month": datetime(2026, 11, 1).date(),
        "conversations": 1,
        "free_used": 1,
        "paid": 0,
        "messages_in": 0,
        "messages_out": 3,
        "delivered": 0,
    }


async def test_a_new_window_opens_after_24_hours(infra: Infrastructure, tenant: Tenant) -> None:
    deps = Deps(infra.pool, infra.publisher)
    start = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    await count_outbound(sent(tenant, start), deps)
    await count_outbound(sent(tenant, start + timedelta(hours=24)), deps)
    await count_outbound(sent(tenant, start, to="573009998877"), deps)  # another customer, its own window
    assert (await usage(infra, tenant))["2026-11-01"]["conversations"] == 3


async def test_redelivered_event_counts_once(infra: Infrastructure, tenant: Tenant) -> None:
    deps = Deps(infra.pool, infra.publisher)
    event = sent(tenant, datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    for _ in range(3):
        await count_outbound(event, deps)
    month = (await usage(infra, tenant))["2026-11-01"]
    assert (month["conversations"], month["messages_out"]) == (1, 1)


async def test_past_the_free_quota_conversations_are_paid_and_the_crm_is_told_once(
    infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(free_quota=2)
    deps = Deps(infra.pool, infra.publisher)
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    for customer in ("573000000001", "573000000002", "573000000003", "573000000004"):
        await count_outbound(sent(tenant, at, to=customer), deps)
    month = (await usage(infra, tenant))["2026-11-01"]
    assert (month["conversations"], month["free_used"], month["paid"]) == (4, 2, 2)
    opened = await tap.wait_for("conversation.opened", count=4)
    assert [e["data"]["free"] for e in opened] == [True, True, False, False]
    (exhausted,) = await tap.wait_for("quota.exhausted")
    assert exhausted["data"]["free_quota"] == 2 and exhausted["data"]["policy"] == "count_paid"


async def test_the_dashboard_shows_this_month_s_free_conversations_left(infra: Infrastructure, make_tenant) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(free_quota=2)
    deps = Deps(infra.pool, infra.publisher)
    now = datetime.now(UTC)  # the dashboard reads the client's current month
    for customer in ("573000000011", "573000000012", "573000000013"):
        await count_outbound(sent(tenant, now, to=customer), deps)
    row = await infra.pool.fetchrow(
        "SELECT free_remaining, conversations_this_month, paid_conversations FROM dashboard.number_usage"
        " WHERE phone_number_id = $1",
        tenant.phone_number_id,
    )
    assert tuple(row) == (0, 3, 1)


async def test_month_boundaries_follow_the_client_timezone(infra: Infrastructure, tenant: Tenant) -> None:
    # 2026-12-01 03:00 UTC is still 30 November, 22:00, in Bogotá (UTC-5).
    deps = Deps(infra.pool, infra.publisher)
    await count_outbound(sent(tenant, datetime(2026, 12, 1, 3, 0, tzinfo=UTC)), deps)
    await count_outbound(sent(tenant, datetime(2026, 12, 1, 3, 0, tzinfo=UTC), to="573005554433"), deps)
    await count_outbound(sent(tenant, datetime(2026, 12, 1, 6, 0, tzinfo=UTC), to="573006665544"), deps)
    months = await usage(infra, tenant)
    assert months["2026-11-01"]["conversations"] == 2
    assert months["2026-12-01"]["conversations"] == 1


async def test_one_transaction_s_events_on_both_sides_of_a_month_boundary_count_in_their_months(
    infra: Infrastructure, tenant: Tenant
) -> None:
    """A batch's effects share their number lookups (``Outgoing.memo``), never across a month on the client's clock."""
    deps = Deps(infra.pool, infra.publisher)
    out = Outgoing()  # one batch transaction's: its effects share the memo
    # Bogotá (UTC-5): 04:59:59 UTC is still 30 November there, 05:00:00 is 1 December; 04:50 and 04:59:59 share a
    # quarter hour with nothing in between, so they share one lookup.
    moments = (
        datetime(2026, 12, 1, 4, 50, tzinfo=UTC),
        datetime(2026, 12, 1, 4, 59, 59, tzinfo=UTC),
        datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
    )
    async with infra.pool.acquire() as conn, conn.transaction():
        for i, at in enumerate(moments):
            await count_outbound.batch_effect(sent(tenant, at, to=f"57300999000{i}"), deps, conn, out)
    months = await usage(infra, tenant)
    assert (months["2026-11-01"]["messages_out"], months["2026-12-01"]["messages_out"]) == (2, 1)
    assert len(out.memo["billing.numbers"]) == 2  # two quarter hours: two lookups for three events


async def test_inbound_messages_are_counted_once(infra: Infrastructure, tenant: Tenant) -> None:
    received = wrap(
        MessageReceived(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            display_phone_number="57601",
            wamid=new_wamid(),
            wa_id=CUSTOMER,
            message_type="text",
            text="hola",
            timestamp=datetime(2026, 11, 10, 15, 0, tzinfo=UTC),
        ),
        correlation_id="c",
        tenant_id=tenant.client_id,
    )
    deps = Deps(infra.pool, infra.publisher)
    await count_inbound(received, deps)
    await count_inbound(received, deps)
    assert (await usage(infra, tenant))["2026-11-01"]["messages_in"] == 1


async def test_meta_pricing_is_recorded_for_reconciliation(infra: Infrastructure, tenant: Tenant) -> None:
    wamid = new_wamid()
    event = wrap(
        MessageStatusChanged(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            wamid=wamid,
            status="sent",
            recipient_id=CUSTOMER,
            timestamp=datetime.now(UTC),
            conversation=MetaConversation(id="CONV9", origin_type="service"),
            pricing=MetaPricing(billable=True, pricing_model="PMP", category="service"),
        ),
        correlation_id="c",
    )
    await record_status(event, Deps(infra.pool, infra.publisher))
    row = await infra.pool.fetchrow("SELECT * FROM billing.meta_pricing WHERE wamid = $1", wamid)
    assert (row["conversation_id"], row["origin_type"], row["billable"], row["pricing_model"]) == (
        "CONV9",
        "service",
        True,
        "PMP",
    )


async def test_delivered_replies_are_counted_once_per_message_in_the_client_s_month(
    infra: Infrastructure, tenant: Tenant
) -> None:
    deps = Deps(infra.pool, infra.publisher)

    def delivered(wamid: str, at: datetime, state: str = "delivered") -> Envelope[MessageStatusChanged]:
        return wrap(
            MessageStatusChanged(
                client_id=tenant.client_id,
                phone_number_id=tenant.phone_number_id,
                wamid=wamid,
                status=state,
                recipient_id=CUSTOMER,
                timestamp=at,
            ),
            id=derived_id("message.status", wamid, state),
            correlation_id="c",
        )

    first, second = new_wamid(), new_wamid()
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    for event in (delivered(first, at), delivered(first, at), delivered(second, at), delivered(first, at, "read")):
        await record_status(event, deps)
    assert (await usage(infra, tenant))["2026-11-01"]["delivered"] == 2


async def test_dedup_records_are_kept_35_days_then_forgotten(infra: Infrastructure) -> None:
    from billing.store import INBOX_RETENTION_DAYS
    from shared.messaging.inbox import forget_old

    old, recent = uuid.uuid4(), uuid.uuid4()
    await infra.pool.execute(
        "INSERT INTO billing.inbox VALUES ($1, now() - interval '36 days'), ($2, now() - interval '34 days')",
        old,
        recent,
    )
    await forget_old(infra.pool, "billing", INBOX_RETENTION_DAYS)
    kept = {
        r["envelope_id"]
        for r in await infra.pool.fetch(
            "SELECT envelope_id FROM billing.inbox WHERE envelope_id = ANY($1::uuid[])", [old, recent]
        )
    }
    assert kept == {recent}


async def test_usage_and_windows_are_the_client_s_when_a_number_changes_owner(
    infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    old, new = await make_tenant(free_quota=10), await make_tenant()
    deps = Deps(infra.pool, infra.publisher)
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    await count_outbound(sent(old, at), deps)
    as_new_owner = await move_tenant_number(infra.pool, old, new, free_quota=4)
    # The new owner's first reply to the same customer, inside the old owner's window: a window of its own.
    await count_outbound(sent(as_new_owner, at + timedelta(hours=1)), deps)
    # A reply of the old owner's that billing sees only after the move still counts for the old owner.
    await count_outbound(sent(old, at + timedelta(hours=2), to="573009998877"), deps)
    rows = await infra.pool.fetch(
        "SELECT client_id, conversations, free_used, messages_out FROM billing.usage WHERE phone_number_id = $1",
        old.phone_number_id,
    )
    assert {r["client_id"]: tuple(r)[1:] for r in rows} == {old.client_id: (2, 2, 2), new.client_id: (1, 1, 1)}
    opened = await tap.wait_for("conversation.opened", count=3)
    assert [(e["tenant_id"] == str(new.client_id), e["data"]["free_remaining"]) for e in opened] == [
        (False, 9),
        (True, 3),
        (False, 8),
    ]


async def test_a_burst_of_replies_for_many_customers_is_counted_in_batches_and_every_counter_is_right(
    infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    from billing.__main__ import ROLE, ROUTES, bootstrap
    from billing.settings import BillingSettings
    from shared.messaging.runtime import run_worker
    from shared.settings import Settings

    tenants = [await make_tenant(free_quota=5) for _ in range(4)]
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    # Each tenant: eight customers, two replies each (the second rides the window the first opened).
    burst = [
        sent(t, at + timedelta(minutes=m), to=f"5730000{c:05d}") for m in (0, 5) for t in tenants for c in range(8)
    ]
    # Meta's statuses of the first tenant's replies, with its pricing: kept for reconciliation, delivered counted.
    statuses = [
        wrap(
            MessageStatusChanged(
                client_id=e.data.client_id,
                phone_number_id=e.data.phone_number_id,
                wamid=e.data.wamid,
                status=state,
                recipient_id=e.data.to,
                timestamp=e.data.sent_at,
                conversation=MetaConversation(id=f"CONV-{e.data.to}", origin_type="service"),
                pricing=MetaPricing(billable=False, pricing_model="PMP", category="service"),
            ),
            correlation_id="c-burst",
        )
        for e in burst
        if e.data.client_id == tenants[0].client_id
        for state in ("sent", "delivered")
    ]
    burst += statuses
    await asyncio.gather(*(infra.publisher.publish(e) for e in burst))
    common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(BillingSettings(**common), ROLE, ROUTES, bootstrap, stop, batch=True))
    try:
        await tap.wait_for("conversation.opened", count=32, timeout=30)
        await tap.wait_for("quota.exhausted", count=4, timeout=30)
        ids = [e.id for e in burst]
        counted = "SELECT count(*) FROM billing.inbox WHERE envelope_id = ANY($1::uuid[])"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await infra.pool.fetchval(counted, ids) < len(burst):
            assert loop.time() < deadline, "the burst was not all counted"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
    for tenant in tenants:
        month = (await usage(infra, tenant))["2026-11-01"]
        assert (month["conversations"], month["free_used"], month["paid"], month["messages_out"]) == (8, 5, 3, 16)
        assert month["delivered"] == (16 if tenant is tenants[0] else 0)
    kept = await infra.pool.fetch(
        "SELECT wamid, status, conversation_id, billable FROM billing.meta_pricing WHERE client_id = $1",
        tenants[0].client_id,
    )
    assert sorted((r["wamid"], r["status"]) for r in kept) == sorted((e.data.wamid, e.data.status) for e in statuses)
    assert all(r["conversation_id"].startswith("CONV-") and r["billable"] is False for r in kept)
    # Each dedup record carries the transaction that wrote it (xmin): far fewer transactions than events.
    transactions = await infra.pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM billing.inbox WHERE envelope_id = ANY($1::uuid[])", ids
    )
    assert transactions <= len(burst) // 4
    assert len({e["id"] for e in tap.of_type("conversation.opened")}) == 32


async def test_two_replicas_batches_deciding_free_or_paid_for_one_number_take_turns(
    infra: Infrastructure, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    """A batch stores its counters at its end: another replica's batch for the same number and month waits for it
    before reading them, so one free conversation left is given once."""
    tenant = await make_tenant(free_quota=1)
    deps = Deps(infra.pool, infra.publisher)
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    first, second = sent(tenant, at, to="573000000001"), sent(tenant, at, to="573000000002")
    async with infra.pool.acquire() as one, infra.pool.acquire() as other:
        one_tx, other_tx = one.transaction(), other.transaction()
        await one_tx.start()
        await other_tx.start()
        one_out, other_out = Outgoing(savepoints=False), Outgoing(savepoints=False)  # each a batch's first pass
        await count_outbound.batch_effect(first, deps, one, one_out)
        waiting = asyncio.create_task(count_outbound.batch_effect(second, deps, other, other_out))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # the other replica waits for the first batch's counters
        for finish in one_out.ends.values():
            await finish(one)
        await one_tx.commit()
        await asyncio.wait_for(waiting, 10)
        for finish in other_out.ends.values():
            await finish(other)
        await other_tx.commit()
    month = (await usage(infra, tenant))["2026-11-01"]
    assert (month["conversations"], month["free_used"], month["paid"]) == (2, 1, 1)
    opened = [e.data.free for e in one_out.envelopes + other_out.envelopes if e.type == "conversation.opened"]
    assert opened == [True, False]

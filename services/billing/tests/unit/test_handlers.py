"""Billing's handlers called directly with the Deps of its ``bootstrap()``: months on the client's clock, the
opening every handler shares (one transaction with the dedup record), and what the CRM is told."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from billing.handlers import Deps, count_inbound, count_outbound, record_status
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageReceived, MessageSent, MessageStatusChanged
from shared.messaging.consumer import Retry
from tests.support.broker import Tap
from tests.support.payloads import new_wamid
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"


def received(tenant: Tenant, at: datetime) -> Envelope[MessageReceived]:
    return wrap(
        MessageReceived(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            display_phone_number="57601",
            wamid=new_wamid(),
            wa_id=CUSTOMER,
            message_type="text",
            text="hola",
            timestamp=at,
        ),
        correlation_id="c-unit",
        tenant_id=tenant.client_id,
    )


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
        correlation_id="c-unit",
        tenant_id=tenant.client_id,
    )


async def months(deps: Deps, tenant: Tenant) -> dict[str, tuple[int, int]]:
    rows = await deps.pool.fetch(
        "SELECT month, messages_in, conversations FROM billing.usage WHERE client_id = $1 AND phone_number_id = $2",
        tenant.client_id,
        tenant.phone_number_id,
    )
    return {r["month"].isoformat(): (r["messages_in"], r["conversations"]) for r in rows}


async def counted(deps: Deps, envelope: Envelope[MessageStatusChanged] | Envelope[MessageSent]) -> bool:
    return bool(await deps.pool.fetchval("SELECT true FROM billing.inbox WHERE envelope_id = $1", envelope.id))


@pytest.mark.parametrize(
    ("timezone", "moment", "month"),
    [
        ("Asia/Tokyo", datetime(2026, 11, 30, 16, 0, tzinfo=UTC), "2026-12-01"),  # already 1 December in Tokyo
        ("Asia/Tokyo", datetime(2026, 11, 30, 14, 59, tzinfo=UTC), "2026-11-01"),
        ("America/Bogota", datetime(2027, 1, 1, 4, 59, tzinfo=UTC), "2026-12-01"),  # still New Year's Eve there
        ("UTC", datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "2027-01-01"),
    ],
)
async def test_a_message_counts_in_the_month_of_the_client_s_clock(
    deps: Deps, make_tenant, timezone: str, moment: datetime, month: str
) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(timezone=timezone)
    await count_inbound(received(tenant, moment), deps)
    assert await months(deps, tenant) == {month: (1, 0)}


async def test_a_pause_ai_client_hears_once_that_its_last_free_conversation_is_used(
    deps: Deps, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(free_quota=1, quota_policy="pause_ai")
    at = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    await count_outbound(sent(tenant, at), deps)
    await count_outbound(sent(tenant, at, to="573009998877"), deps)
    (exhausted,) = await tap.wait_for("quota.exhausted")
    assert exhausted["data"]["policy"] == "pause_ai" and exhausted["tenant_id"] == str(tenant.client_id)
    opened = await tap.wait_for("conversation.opened", count=2)
    assert [(e["data"]["free"], e["data"]["free_remaining"]) for e in opened] == [(True, 0), (False, 0)]
    assert all(e["correlation_id"] == "c-unit" for e in [*opened, exhausted])


async def test_a_status_with_nothing_to_count_or_keep_leaves_no_trace(deps: Deps, tenant: Tenant) -> None:
    status = wrap(
        MessageStatusChanged(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            wamid=new_wamid(),
            status="read",
            recipient_id=CUSTOMER,
            timestamp=datetime.now(UTC),
        ),
        correlation_id="c-unit",
    )
    await record_status(status, deps)
    assert not await counted(deps, status)
    assert await months(deps, tenant) == {}


async def test_an_event_for_a_number_not_in_the_directory_waits_and_its_dedup_record_rolls_back(
    deps: Deps, tap: Tap, tenant: Tenant
) -> None:
    stranger = Tenant(uuid.uuid4(), "", "+576010000000", "999999999999999", tenant.waba_id, "")
    early = sent(stranger, datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    with pytest.raises(Retry, match="not in the directory") as retry:
        await count_outbound(early, deps)
    assert retry.value.delay_s == 30
    assert not await counted(deps, early)  # so the retry counts it once the number is known
    await tap.drained()
    assert tap.of_type("conversation.opened") == []


async def test_an_envelope_already_counted_changes_nothing_however_often_it_comes(
    deps: Deps, tap: Tap, tenant: Tenant
) -> None:
    once = sent(tenant, datetime(2026, 11, 10, 15, 0, tzinfo=UTC))
    for _ in range(3):
        await count_outbound(once, deps)
    assert await counted(deps, once)
    assert await months(deps, tenant) == {"2026-11-01": (0, 1)}
    await tap.wait_for("conversation.opened")
    await tap.drained()
    assert len(tap.of_type("conversation.opened")) == 1

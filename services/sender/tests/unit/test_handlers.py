"""The sender's handlers called directly with the Deps of its ``bootstrap()``, against the emulator of Meta: the
limits its settings give, and what a send that fails or waits leaves behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest

from sender.handlers import Deps, mark_read, send
from sender.limits import Limits
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MarkRead, SendMessage
from shared.messaging.consumer import Retry
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"
SenderDeps = Callable[..., AbstractAsyncContextManager[Deps]]  # the ``sender_deps`` fixture


def command(tenant: Tenant, text: str = "Hola", *, to: str = CUSTOMER, **extra: object) -> Envelope[SendMessage]:
    return wrap(
        SendMessage(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            to=to,
            text=text,
            customer_last_message_at=datetime.now(UTC),
            **extra,  # type: ignore[arg-type]
        ),
        correlation_id="corr-unit",
        tenant_id=tenant.client_id,
    )


async def sends(deps: Deps, tenant: Tenant) -> list[str]:
    rows = await deps.pool.fetch(
        "SELECT state FROM sender.sends WHERE phone_number_id = $1 ORDER BY started_at", tenant.phone_number_id
    )
    return [r["state"] for r in rows]


async def test_meta_s_limits_are_the_ones_the_sender_s_settings_give(
    sender_deps: SenderDeps, sandbox: Sandbox, tenant: Tenant
) -> None:
    async with sender_deps(number_rate_per_s=50, pair_rate_per_s=0.1, pair_burst=2) as deps:
        assert deps.limits == Limits(number_rate_per_s=50, pair_rate_per_s=0.1, pair_burst=2)
        await send(command(tenant, "uno"), deps)
        await send(command(tenant, "dos"), deps)
        with pytest.raises(Retry, match="rate limit") as waited:
            await send(command(tenant, "tres"), deps)
    assert waited.value.counts is False and 0 < (waited.value.delay_s or 0) <= 10
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)] == ["uno", "dos"]


async def test_a_number_at_its_throughput_limit_skips_read_receipts_rather_than_delay_replies(
    sender_deps: SenderDeps, sandbox: Sandbox, tenant: Tenant
) -> None:
    async with sender_deps(number_rate_per_s=1) as deps:
        await send(command(tenant), deps)  # the number's one token this second
        read = MarkRead(client_id=tenant.client_id, phone_number_id=tenant.phone_number_id, wamid="wamid.in-busy")
        await mark_read(wrap(read, correlation_id="corr-unit", tenant_id=tenant.client_id), deps)
    assert await sandbox.reads(phone_number_id=tenant.phone_number_id) == []
    assert len(await sandbox.outbox(phone_number_id=tenant.phone_number_id)) == 1


async def test_a_failed_send_is_reported_once_and_its_redelivery_calls_meta_no_more(
    deps: Deps, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    await sandbox.inject_fault(code=131026, count=1, phone_number_id=tenant.phone_number_id)
    once = command(tenant)
    await send(once, deps)
    await send(once, deps)  # redelivered: already failed, nothing more
    (failed,) = await tap.wait_for("message.failed")
    assert (failed["data"]["send_id"], failed["correlation_id"]) == (str(once.id), "corr-unit")
    assert await sends(deps, tenant) == ["failed"]
    await tap.drained()
    assert len(tap.of_type("message.failed")) == 1 and tap.of_type("message.sent") == []


async def test_after_a_transient_meta_error_the_retry_sends_the_message_once(
    deps: Deps, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    await sandbox.inject_fault(code=131000, count=1, phone_number_id=tenant.phone_number_id)
    once = command(tenant)
    with pytest.raises(Retry, match="131000") as retry:
        await send(once, deps)
    assert retry.value.counts and 2 <= (retry.value.delay_s or 0) <= 4
    assert await sends(deps, tenant) == []  # Meta answered: it does not have it
    await send(once, deps)
    (sent,) = await tap.wait_for("message.sent")
    (delivered,) = await sandbox.outbox(phone_number_id=tenant.phone_number_id)
    assert sent["data"]["wamid"] == delivered["wamid"] and await sends(deps, tenant) == ["sent"]


async def test_a_part_whose_previous_part_never_left_goes_after_ten_minutes(
    deps: Deps, sandbox: Sandbox, tenant: Tenant
) -> None:
    lost = command(tenant, "Primera parte, nunca enviada.")
    late = command(tenant, "Segunda parte.", after_send_id=lost.id)
    late = late.model_copy(update={"occurred_at": datetime.now(UTC) - timedelta(minutes=11)})
    await send(late, deps)
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)] == ["Segunda parte."]


async def test_a_send_held_back_takes_no_token_from_the_customer_s_pair_budget(
    sender_deps: SenderDeps, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    stale = datetime.now(UTC) - timedelta(hours=25)
    async with sender_deps(pair_burst=1) as deps:
        waiting = command(tenant, "Segunda parte.", after_send_id=command(tenant).id)  # its first part never came
        with pytest.raises(Retry, match="previous part"):
            await send(waiting, deps)
        late = command(tenant, "Fuera de la ventana.")
        stale_data = late.data.model_copy(update={"customer_last_message_at": stale})
        await send(late.model_copy(update={"data": stale_data}), deps)
        sent = command(tenant, "La única.")
        await send(sent, deps)  # the pair's one token was still there
        await send(sent, deps)  # redelivered: nothing taken, nothing sent, no wait
        recorded = await sends(deps, tenant)
    (failed,) = await tap.wait_for("message.failed")
    assert failed["data"]["error_code"] == 131047
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)] == ["La única."]
    assert sorted(recorded) == ["failed", "sent"]


async def test_a_send_under_way_in_another_delivery_is_not_sent_twice(
    deps: Deps, sandbox: Sandbox, tenant: Tenant
) -> None:
    once = command(tenant, "Una sola vez.")
    first, second = await asyncio.gather(send(once, deps), send(once, deps), return_exceptions=True)
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)] == ["Una sola vez."]
    assert await sends(deps, tenant) == ["sent"]
    assert {type(first), type(second)} <= {type(None), Retry}


async def test_read_receipts_that_arrive_together_each_take_a_token_of_their_number(
    sender_deps: SenderDeps, sandbox: Sandbox, tenant: Tenant
) -> None:
    async with sender_deps(number_rate_per_s=2) as deps:
        reads = [
            wrap(
                MarkRead(client_id=tenant.client_id, phone_number_id=tenant.phone_number_id, wamid=f"wamid.in-{n}"),
                correlation_id="corr-unit",
                tenant_id=tenant.client_id,
            )
            for n in range(3)
        ]
        await asyncio.gather(*(mark_read(read, deps) for read in reads))  # the number's two tokens this second
    marked = await sandbox.reads(phone_number_id=tenant.phone_number_id)
    assert sorted(r["message_id"] for r in marked) == ["wamid.in-0", "wamid.in-1"]

"""The sender against the sandbox's Meta emulator, over HTTP, with the real database and broker (``deps``: the
conftest's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from sender.handlers import Deps, mark_read, send
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MarkRead, SendMessage, SentBy
from shared.graph.client import graph_client
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import status
from tests.support.router import meta_reported
from tests.support.sandbox import Sandbox
from tests.support.sender import CUSTOMER, command
from tests.support.tenants import Tenant


async def test_send_reaches_meta_and_is_reported_with_its_wamid(
    deps: Deps, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    await send(command(tenant), deps)
    (delivered,) = await sandbox.outbox(phone_number_id=tenant.phone_number_id)
    assert delivered["to"] == CUSTOMER and delivered["text"] == "¡Hola! Sí, tenemos apartamentos en Chapinero."
    assert delivered["request"]["context"] == {"message_id": "wamid.in1"}
    (sent,) = await tap.wait_for("message.sent")
    assert sent["data"]["wamid"] == delivered["wamid"]
    assert sent["correlation_id"] == "corr-s" and sent["tenant_id"] == str(tenant.client_id)
    assert sent["data"]["sent_by"] is None  # the AI's replies and older CRMs say nothing of it


async def test_who_wrote_a_crm_s_message_travels_on_to_message_sent(deps: Deps, tap: Tap, tenant: Tenant) -> None:
    await send(command(tenant, "Le escribe Laura, su asesora.", sent_by=SentBy(kind="person", name="Laura")), deps)
    (sent,) = await tap.wait_for("message.sent")
    assert sent["data"]["sent_by"] == {"kind": "person", "name": "Laura"}


async def test_the_same_command_twice_sends_once(deps: Deps, sandbox: Sandbox, tenant: Tenant) -> None:
    once = command(tenant)
    await send(once, deps)
    await send(once, deps)
    assert len(await sandbox.outbox(phone_number_id=tenant.phone_number_id)) == 1


async def test_retryable_meta_error_is_retried_later_not_failed(deps: Deps, sandbox: Sandbox, tenant: Tenant) -> None:
    await sandbox.inject_fault(code=130429, count=1, phone_number_id=tenant.phone_number_id)
    with pytest.raises(Retry, match="130429"):
        await send(command(tenant), deps)
    state = await deps.pool.fetchval(
        "SELECT count(*) FROM sender.sends WHERE phone_number_id = $1", tenant.phone_number_id
    )
    assert state == 0  # nothing recorded: the retry will send it


async def test_permanent_meta_error_becomes_message_failed_with_meta_s_code(
    deps: Deps, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    await sandbox.inject_fault(code=131026, count=1, phone_number_id=tenant.phone_number_id)
    await send(command(tenant), deps)
    (failed,) = await tap.wait_for("message.failed")
    assert failed["data"]["error_code"] == 131026
    assert await sandbox.outbox(phone_number_id=tenant.phone_number_id) == []


async def test_outside_the_24_hour_window_no_free_form_message_is_sent(
    deps: Deps, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    stale = datetime.now(UTC) - timedelta(hours=24, minutes=1)
    await send(command(tenant, last_message_at=stale), deps)
    (failed,) = await tap.wait_for("message.failed")
    assert failed["data"]["error_code"] == 131047
    assert await sandbox.outbox(phone_number_id=tenant.phone_number_id) == []


async def test_pair_rate_is_held_before_meta_enforces_it(deps: Deps, sandbox: Sandbox, tenant: Tenant) -> None:
    for n in range(3):  # the burst the test limits allow
        await send(command(tenant, f"mensaje {n}"), deps)
    with pytest.raises(Retry, match="rate limit") as retry:
        await send(command(tenant, "uno de más"), deps)
    assert 0 < retry.value.delay_s <= 6
    assert len(await sandbox.outbox(phone_number_id=tenant.phone_number_id)) == 3
    # Another customer of the same number has a pair budget of its own.
    await send(command(tenant, "otro cliente", to="573009998877"), deps)


async def test_a_rejected_token_holds_the_message_for_later_instead_of_failing_it(
    infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    settings = infra.settings.model_copy(
        update={"graph_base_url": sandbox.graph_url, "graph_token": SecretStr("wrong")}
    )
    async with graph_client(settings) as graph:
        with pytest.raises(Retry, match="token rejected") as retry:
            await send(command(tenant), Deps(infra.pool, infra.publisher, graph))
    assert retry.value.delay_s >= 600
    assert tap.of_type("message.failed") == []
    assert await sandbox.outbox(phone_number_id=tenant.phone_number_id) == []


def mark(tenant: Tenant, wamid: str, *, age_s: float = 0) -> Envelope[MarkRead]:
    return wrap(
        MarkRead(client_id=tenant.client_id, phone_number_id=tenant.phone_number_id, wamid=wamid),
        correlation_id="corr-r",
        tenant_id=tenant.client_id,
        occurred_at=datetime.now(UTC) - timedelta(seconds=age_s),
    )


async def test_customer_message_is_marked_read_with_typing_while_the_reply_is_written(
    deps: Deps, sandbox: Sandbox, tenant: Tenant
) -> None:
    await mark_read(mark(tenant, "wamid.in-typing"), deps)
    (read,) = await sandbox.reads(phone_number_id=tenant.phone_number_id)
    assert read["message_id"] == "wamid.in-typing" and read["typing_indicator"] is True


async def test_a_late_read_receipt_shows_no_typing_and_a_failure_is_not_retried(
    deps: Deps, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant
) -> None:
    await mark_read(mark(tenant, "wamid.in-late", age_s=60), deps)
    (read,) = await sandbox.reads(phone_number_id=tenant.phone_number_id)
    assert read["typing_indicator"] is False
    settings = infra.settings.model_copy(update={"graph_base_url": sandbox.graph_url, "graph_token": SecretStr("x")})
    async with graph_client(settings) as refused:
        await mark_read(mark(tenant, "wamid.in-refused"), Deps(deps.pool, deps.publisher, refused))  # raises nothing
    assert [r["message_id"] for r in await sandbox.reads(phone_number_id=tenant.phone_number_id)] == ["wamid.in-late"]


async def test_idle_rate_buckets_are_forgotten_and_busy_ones_kept(deps: Deps, tenant: Tenant) -> None:
    from sender.store import forget_idle_buckets

    await send(command(tenant, "hola", to="573005550001"), deps)
    idle = f"pair:{tenant.phone_number_id}:573000000999"
    await deps.pool.execute("INSERT INTO sender.rate_buckets VALUES ($1, 0, now() - interval '2 hours')", idle)
    assert await forget_idle_buckets(deps.pool, deps.limits.full_after_s()) >= 1
    buckets = {r["bucket"] for r in await deps.pool.fetch("SELECT bucket FROM sender.rate_buckets")}
    assert idle not in buckets and f"pair:{tenant.phone_number_id}:573005550001" in buckets


async def crashed_attempt(deps: Deps, send: Envelope[SendMessage], minutes_ago: float) -> None:
    """What a sender killed between Meta's answer and its own record leaves behind."""
    from sender.store import mark_sending

    async with deps.pool.acquire() as conn:
        await mark_sending(conn, send.id, send.data)
        await conn.execute(
            "UPDATE sender.sends SET started_at = now() - make_interval(mins => $2) WHERE send_id = $1",
            send.id,
            minutes_ago,
        )


async def test_every_send_carries_its_idempotency_key_to_meta(deps: Deps, sandbox: Sandbox, tenant: Tenant) -> None:
    once = command(tenant)
    await send(once, deps)
    (delivered,) = await sandbox.outbox(phone_number_id=tenant.phone_number_id)
    assert delivered["request"]["biz_opaque_callback_data"] == str(once.id)


async def test_after_a_crash_meta_s_statuses_prove_the_message_left_and_it_is_not_sent_again(
    deps: Deps, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    lost = command(tenant)
    await crashed_attempt(deps, lost, minutes_ago=0)
    # Meta's status of the message that left, carrying the send id back, as the router records it.
    left = {**status("wamid.left-before-the-crash", "sent"), "biz_opaque_callback_data": str(lost.id)}
    await meta_reported(infra, tenant, left)
    await send(lost, deps)
    assert await sandbox.outbox(phone_number_id=tenant.phone_number_id) == []
    (sent,) = await tap.wait_for("message.sent")
    assert sent["data"]["wamid"] == "wamid.left-before-the-crash"


async def test_after_a_crash_without_news_from_meta_the_sender_waits_then_sends_again(
    deps: Deps, sandbox: Sandbox, tenant: Tenant
) -> None:
    recent, old = command(tenant, "reciente"), command(tenant, "antiguo", to="573009998877")
    await crashed_attempt(deps, recent, minutes_ago=0)
    await crashed_attempt(deps, old, minutes_ago=5)
    with pytest.raises(Retry, match="outcome is unknown") as waiting:
        await send(recent, deps)
    assert waiting.value.counts is False
    await send(old, deps)
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)] == ["antiguo"]


async def test_a_part_of_a_long_reply_waits_until_the_part_before_it_has_left(
    deps: Deps, sandbox: Sandbox, tenant: Tenant
) -> None:
    first = command(tenant, "Primera parte de la respuesta.")
    second_command = command(tenant, "Segunda parte.").data.model_copy(update={"after_send_id": first.id})
    second = wrap(second_command, correlation_id="corr-s", tenant_id=tenant.client_id)

    with pytest.raises(Retry, match="previous part") as waited:
        await send(second, deps)  # delivered first, as concurrent consumers may
    assert waited.value.counts is False and not await sandbox.outbox(phone_number_id=tenant.phone_number_id)
    await send(first, deps)
    await send(second, deps)
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)] == [
        "Primera parte de la respuesta.",
        "Segunda parte.",
    ]

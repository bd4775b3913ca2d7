"""A batch of sends at once (the route's ``many``, as the sender's consumer hands it over): claimed in one round trip,
sent to the emulator at the same time, announced together and recorded in one statement; each send's outcome its
own, as :func:`sender.handlers.send` would have given it alone."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from sender.handlers import Deps, send, sends
from sender.limits import Limits
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import SendMessage
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.sender import command
from tests.support.statements import watched_pool
from tests.support.tenants import Tenant


@pytest.fixture
async def watched(deps: Deps, infra: Infrastructure) -> AsyncIterator[tuple[Deps, list[str]]]:
    """The handler's deps on a pool whose statements are kept as they are sent."""
    async with watched_pool(infra) as (pool, statements):
        yield dataclasses.replace(deps, pool=pool), statements


async def states(deps: Deps, tenant: Tenant) -> dict[str, tuple[str, str | None]]:
    rows = await deps.pool.fetch(
        "SELECT recipient, state, wamid FROM sender.sends WHERE phone_number_id = $1", tenant.phone_number_id
    )
    return {r["recipient"]: (r["state"], r["wamid"]) for r in rows}


async def test_a_batch_of_sends_is_claimed_and_recorded_with_one_statement_each_and_every_one_leaves(
    watched: tuple[Deps, list[str]], sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    deps, statements = watched
    customers = [f"57300555{n:04d}" for n in range(5)]
    statements.clear()

    assert await sends([command(tenant, f"Hola {c}", to=c) for c in customers], deps) == [None] * 5

    delivered = await sandbox.outbox(phone_number_id=tenant.phone_number_id)
    assert sorted(m["to"] for m in delivered) == customers
    sent = await tap.wait_for("message.sent", count=5)
    wamids = {m["to"]: m["wamid"] for m in delivered}
    assert {s["data"]["to"]: s["data"]["wamid"] for s in sent} == wamids
    assert await states(deps, tenant) == {c: ("sent", wamids[c]) for c in customers}
    assert sum("INSERT INTO sender.sends (send_id" in s and "'sending'" in s for s in statements) == 1  # the claims
    assert sum("AS t(send_id, client_id" in s for s in statements) == 1  # the records


async def test_each_send_of_a_batch_gets_the_outcome_it_would_get_alone(
    deps: Deps,
    sandbox: Sandbox,
    tap: Tap,
    tenant: Tenant,
) -> None:
    already = command(tenant, "ya enviado", to="573006660001")
    await send(already, deps)
    stale = command(
        tenant, "fuera de la ventana", to="573006660002", last_message_at=datetime.now(UTC) - timedelta(hours=25)
    )
    fine = command(tenant, "nuevo", to="573006660003")
    first = command(tenant, "Primera parte.", to="573006660004")
    second = wrap(
        command(tenant, "Segunda parte.", to="573006660004").data.model_copy(update={"after_send_id": first.id}),
        correlation_id="corr-s",
        tenant_id=tenant.client_id,
    )

    outcomes = await sends([already, stale, fine, first, second], deps)

    assert outcomes[:4] == [None, None, None, None]
    # Claimed just after its first part, the second waits for it to leave, as it would after it alone.
    assert isinstance(outcomes[4], Retry) and "previous part" in str(outcomes[4]) and outcomes[4].counts is False
    texts = [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)]
    assert sorted(texts) == ["Primera parte.", "nuevo", "ya enviado"]  # the duplicate not sent again
    (failed,) = await tap.wait_for("message.failed")
    assert failed["data"]["to"] == "573006660002" and failed["data"]["error_code"] == 131047
    assert await sends([second], deps) == [None]  # its redelivery, now that the first part has left
    assert [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)][-1] == "Segunda parte."


async def test_meta_s_error_on_one_send_is_that_send_s_alone(
    deps: Deps,
    sandbox: Sandbox,
    tap: Tap,
    tenant: Tenant,
) -> None:
    await sandbox.inject_fault(code=130429, count=1, phone_number_id=tenant.phone_number_id)
    customers = [f"57300777{n:04d}" for n in range(3)]

    outcomes = await sends([command(tenant, "Hola", to=c) for c in customers], deps)

    failed = [n for n, outcome in enumerate(outcomes) if outcome is not None]
    assert len(failed) == 1 and isinstance(outcomes[failed[0]], Retry) and "130429" in str(outcomes[failed[0]])
    assert len(await tap.wait_for("message.sent", count=2)) == 2
    recorded = await states(deps, tenant)
    assert set(recorded) == {c for n, c in enumerate(customers) if n != failed[0]}  # the refused one: no trace


async def test_a_batch_holds_the_pair_rate_as_sends_one_after_another_would(
    deps: Deps,
    sandbox: Sandbox,
    tenant: Tenant,
) -> None:
    outcomes = await sends([command(tenant, f"mensaje {n}") for n in range(4)], deps)  # the test limits: a burst of 3

    assert outcomes[:3] == [None, None, None]
    assert isinstance(outcomes[3], Retry) and "rate limit" in str(outcomes[3]) and outcomes[3].counts is False
    assert len(await sandbox.outbox(phone_number_id=tenant.phone_number_id)) == 3


async def test_batches_beside_each_other_on_two_numbers_claim_without_failing(
    deps: Deps, sandbox: Sandbox, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    """Two batches holding sends of the same two numbers in opposite orders: their claims take the buckets' locks
    number by number, and any deadlock left is PostgreSQL's to break and theirs to retry, one claim at a time."""
    x, y = await make_tenant(), await make_tenant()
    roomy = dataclasses.replace(
        deps, limits=Limits(number_rate_per_s=10_000, pair_rate_per_s=10_000, pair_burst=10_000)
    )

    def batch(first: Tenant, second: Tenant, round_: int) -> list[Envelope[SendMessage]]:
        return [command(first if n % 2 == 0 else second, to=f"5730{round_:03d}{n:05d}") for n in range(16)]

    for round_ in range(5):
        outcomes = await asyncio.gather(sends(batch(x, y, round_), roomy), sends(batch(y, x, round_ + 100), roomy))
        assert outcomes == [[None] * 16, [None] * 16]
    sent = await sandbox.outbox(phone_number_id=x.phone_number_id) + await sandbox.outbox(
        phone_number_id=y.phone_number_id
    )
    assert len(sent) == 5 * 32

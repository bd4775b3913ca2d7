"""A batch of customer messages at once (the route's ``many``, as the worker's consumer hands it over): one
statement each to find them, read where they stand and record their replies, the model writing them all at the
same time; each message's outcome its own, as if it had been handled alone."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from ai_worker.handlers import Deps, replies
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.statements import watched_pool


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def watched(deps: Deps, infra: Infrastructure) -> AsyncIterator[tuple[Deps, list[str]]]:
    """The handler's deps on a pool whose statements are kept as they are sent."""
    async with watched_pool(infra) as (pool, statements):
        yield dataclasses.replace(deps, pool=pool), statements


def counted(statements: list[str], fragment: str) -> int:
    return sum(fragment in s for s in statements)


async def test_a_batch_of_customers_gets_one_reply_each_from_one_statement_per_step(
    watched: tuple[Deps, list[str]], make_chat, make_tenant, sandbox: Sandbox, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    deps, statements = watched
    a, b = await make_tenant(), await make_tenant()
    at = now()
    chats = [make_chat(a, f"57300111{n:04d}") for n in range(4)] + [make_chat(b, "573009990000")]
    envelopes = [
        chat.received(await chat.write(f"Hola, soy {n}", at), f"Hola, soy {n}", at) for n, chat in enumerate(chats)
    ]
    statements.clear()

    assert await replies(envelopes, deps) == [None] * 5

    commands = await tap.wait_for("message.send", count=5)
    assert sorted((c["data"]["to"], c["data"]["answers"]) for c in commands) == sorted(
        (chat.customer, [e.data.wamid]) for chat, e in zip(chats, envelopes, strict=True)
    )
    assert {c["tenant_id"] for c in commands if c["data"]["to"] == "573009990000"} == {str(b.client_id)}
    assert len(await tap.wait_for("message.mark_read", count=5)) == 5  # "typing…" for each
    assert len(await sandbox.llm_requests()) == 5
    assert counted(statements, "pg_try_advisory_lock") == 1  # the arrivals, and the turns taken
    assert counted(statements, "WITH ORDINALITY\n                AS q") == 1  # the standings
    assert counted(statements, "INSERT INTO ai_worker.replies") == 1
    assert counted(statements, "pg_advisory_unlock_all") == 1  # the turns given back once


async def test_a_burst_in_one_batch_gets_one_reply_from_its_latest_message(
    deps: Deps, chat, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    texts = ("Hola", "busco apartamento", "en Chapinero")
    burst = [await chat.write(text, at) for text in texts]

    outcomes = await replies([chat.received(w, t, at) for w, t in zip(burst, texts, strict=True)], deps)

    assert outcomes == [None, None, None]
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["answers"] == burst and command["data"]["reply_to_wamid"] == burst[-1]
    (request,) = await sandbox.llm_requests()
    assert [(m["role"], m["content"]) for m in request["messages"][1:]] == [("user", t) for t in texts]
    await asyncio.sleep(0.2)
    assert len(tap.of_type("message.send")) == 1


async def test_a_model_failure_retries_its_message_alone(
    deps: Deps, make_chat, tenant, sandbox: Sandbox, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    at = now()
    chats = [make_chat(tenant, f"57300222{n:04d}") for n in range(3)]
    envelopes = [chat.received(await chat.write("¿Precio?", at), "¿Precio?", at) for chat in chats]
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{sandbox.llm_url}/_stub/faults", json={"status": 503}) as answer:
            assert answer.status == 201  # the next call only: one of the three, whichever reaches it first

    outcomes = await replies(envelopes, deps)

    failed = [n for n, outcome in enumerate(outcomes) if outcome is not None]
    assert len(failed) == 1 and isinstance(outcomes[failed[0]], Retry)
    commands = await tap.wait_for("message.send", count=2)
    answered = {c["data"]["to"] for c in commands}
    assert answered == {chat.customer for n, chat in enumerate(chats) if n != failed[0]}
    # Its redelivery answers it, and only it.
    assert await replies([envelopes[failed[0]]], deps) == [None]
    (late,) = await tap.wait_for("message.send", count=1, where=lambda c: c["data"]["to"] not in answered)
    assert late["data"]["answers"] == [envelopes[failed[0]].data.wamid]


async def test_a_message_whose_turn_another_worker_holds_is_answered_after_the_batch_gives_its_turns_back(
    deps: Deps, make_chat, tenant, infra: Infrastructure, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    at = now()
    free, held = make_chat(tenant, "573003330001"), make_chat(tenant, "573003330002")
    envelopes = [chat.received(await chat.write("Hola", at), "Hola", at) for chat in (free, held)]
    key = f"{tenant.client_id}:{tenant.phone_number_id}:{held.customer}"
    other = await asyncpg.connect(infra.settings.database_url.get_secret_value())
    try:
        await other.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)  # another replica's turn
        replying = asyncio.create_task(replies(envelopes, deps))
        (first,) = await tap.wait_for("message.send")
        assert first["data"]["to"] == free.customer  # not held up by the busy conversation
        await asyncio.sleep(0.3)
        assert not replying.done()  # the busy one waits for its turn, alone
        await other.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
        assert await asyncio.wait_for(replying, 10) == [None, None]
    finally:
        await other.close()
    (second,) = await tap.wait_for("message.send", where=lambda c: c["data"]["to"] == held.customer)
    assert second["data"]["answers"] == [envelopes[1].data.wamid]


async def test_messages_inside_the_burst_window_wait_while_older_ones_are_answered(
    deps: Deps, make_chat, tenant, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    at = now()
    old, young = make_chat(tenant, "573004440001"), make_chat(tenant, "573004440002")
    first = old.received(await old.write("Hola", at), "Hola", at)
    await old.past_the_burst_window([first.data.wamid], 300)
    second = young.received(await young.write("Hola", at), "Hola", at)

    outcomes = await replies([first, second], dataclasses.replace(deps, reply_burst_window_ms=300))

    assert outcomes[0] is None
    assert isinstance(outcomes[1], Retry) and "burst window" in str(outcomes[1]) and outcomes[1].counts is False
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["to"] == old.customer
    typing = await tap.wait_for("message.mark_read", count=2)
    assert {t["data"]["wamid"] for t in typing} == {first.data.wamid, second.data.wamid}


async def test_a_message_delivered_twice_in_one_batch_is_answered_once(
    deps: Deps, chat, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    envelope = chat.received(await chat.write("Hola", at), "Hola", at)

    assert await replies([envelope, envelope], deps) == [None, None]

    (command,) = await tap.wait_for("message.send")
    assert command["data"]["answers"] == [envelope.data.wamid]
    assert len(await sandbox.llm_requests()) == 1
    await asyncio.sleep(0.2)
    assert len(tap.of_type("message.send")) == 1

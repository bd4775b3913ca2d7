"""One conversation at a time: a handler holds its conversation's turn while the model writes and gives it back
when it is done, whatever the outcome; "typing…" shows while the model writes; a reply's ledger rows are recorded
all together or not at all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from ai_worker import ledger
from ai_worker.conversation import Pending, Standing
from ai_worker.handlers import Deps, reply
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from shared.prompting import Turn
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def turn_is_free(infra: Infrastructure, chat) -> bool:  # type: ignore[no-untyped-def]
    """Whether another worker could take this conversation's turn now (taken and given back at once)."""
    key = f"{chat.tenant.client_id}:{chat.tenant.phone_number_id}:{chat.customer}"
    async with infra.pool.acquire() as conn:
        taken = await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key)
        if taken:
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
        return bool(taken)


async def stub(sandbox: Sandbox, **fault: object) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{sandbox.llm_url}/_stub/faults", json=fault) as r:
        assert r.status == 201, await r.text()


async def test_the_turn_is_held_while_the_model_writes_with_typing_shown_and_given_back_after_the_reply(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    wamid = await chat.write("¿Tienen parqueadero?", at)
    await stub(sandbox, delay_s=1.5)  # a model that takes its time
    replying = asyncio.create_task(reply(chat.received(wamid, "¿Tienen parqueadero?", at), deps))
    (typing,) = await tap.wait_for("message.mark_read")  # shown while the model is still writing
    assert typing["data"]["wamid"] == wamid and not replying.done()
    assert not await turn_is_free(infra, chat)  # another replica's message of this customer waits its turn
    await replying
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["reply_to_wamid"] == wamid
    assert await turn_is_free(infra, chat)


async def test_the_turn_is_given_back_after_an_outage_a_coalesced_message_and_a_wait_in_the_burst_window(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    first = await chat.write("Hola", at)
    second = await chat.write("¿siguen abiertos?", at)
    await stub(sandbox, status=503)
    with pytest.raises(Retry, match="LLM unavailable"):
        await reply(chat.received(second, "¿siguen abiertos?", at), deps)
    assert await turn_is_free(infra, chat)
    await reply(chat.received(first, "Hola", at), deps)  # coalesced: the second one's reply answers it
    assert await turn_is_free(infra, chat)
    third = await chat.write("¿y mañana?", at + timedelta(seconds=1))
    waiting = Deps(deps.pool, deps.publisher, deps.writer, reply_burst_window_ms=60_000)
    with pytest.raises(Retry, match="burst window"):
        await reply(chat.received(third, "¿y mañana?", at + timedelta(seconds=1)), waiting)
    assert await turn_is_free(infra, chat)
    assert tap.of_type("message.send") == []


async def test_a_reply_whose_ledger_rows_cannot_all_be_recorded_leaves_none(
    deps: Deps, chat, infra: Infrastructure
) -> None:
    at = now()
    wamid = await chat.write("¿Aceptan mascotas?", at)
    received = chat.received(wamid, "¿Aceptan mascotas?", at).data
    first = ledger.Reply(ledger.reply_id(wamid, "reply"), wamid, "reply", (wamid,), ("Sí.",), "Sí.")
    other = ledger.Reply(ledger.reply_id("another", "reply"), "another", "reply", (wamid,), ("No.", "Bueno."), "No.")
    async with infra.pool.acquire() as conn:
        await ledger.record(conn, received, first)
        with pytest.raises(asyncpg.UniqueViolationError):  # the message is answered already: not twice
            await ledger.record(conn, received, other)
    rows = await infra.pool.fetchval(
        """SELECT (SELECT count(*) FROM ai_worker.replies WHERE id = $1)
                + (SELECT count(*) FROM ai_worker.reply_parts WHERE reply_id = $1)""",
        other.id,
    )
    assert rows == 0
    parts = await infra.pool.fetchval("SELECT count(*) FROM ai_worker.reply_parts WHERE reply_id = $1", first.id)
    assert parts == 1


def test_the_prompt_s_history_leaves_room_for_every_waiting_message_and_keeps_the_latest_earlier_turns() -> None:
    earlier = [Turn("customer", "Hola"), Turn("business", "¡Hola!"), Turn("customer", "¿Precio?")]
    waiting = [Pending("w1", "text", "uno"), Pending("w2", "reaction", "👍"), Pending("w3", "image", None)]
    standing = Standing(None, waiting, False, earlier)
    uno, thumbs, photo = (
        Turn("customer", "uno"),
        Turn("customer", "👍"),
        Turn("customer", "[image from the customer, with no text]"),
    )
    assert standing.history(6) == [*earlier, uno, thumbs, photo]
    assert standing.history(4) == [Turn("customer", "¿Precio?"), uno, thumbs, photo]  # the latest earlier turn
    assert standing.history(3) == [uno, thumbs, photo]  # no room left for the earlier conversation
    assert standing.history(2) == [thumbs, photo]  # the oldest waiting turn is cut first

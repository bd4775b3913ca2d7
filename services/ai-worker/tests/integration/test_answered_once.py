"""Each customer message is answered exactly once, by one reply that says which messages it answers (the
``ai_worker`` ledger), whatever the redeliveries, the order commits happen in, or the length of the reply."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from ai_worker import ledger
from ai_worker.handlers import Deps, reply
from ai_worker.parts import MAX_TEXT_CHARS
from shared.contracts.envelope import derived_id
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def answers_of(infra: Infrastructure, send_id: str) -> list[str]:
    rows = await infra.pool.fetch(
        "SELECT wamid FROM ai_worker.answers WHERE reply_id = $1::uuid ORDER BY position", send_id
    )
    return [r["wamid"] for r in rows]


def prompt(request: dict[str, object]) -> list[tuple[str, str]]:
    messages = request["messages"]
    assert isinstance(messages, list)
    return [(m["role"], m["content"]) for m in messages[1:]]


async def test_a_message_redelivered_after_its_reply_was_recorded_publishes_the_same_send_again(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    wamid = await chat.write("¿Tienen parqueadero?", at)
    envelope = chat.received(wamid, "¿Tienen parqueadero?", at)
    await reply(envelope, deps)
    await reply(envelope, deps)  # the broker's redelivery: the worker died before its ack
    first, again = await tap.wait_for("message.send", count=2)
    assert first["id"] == again["id"] == str(derived_id("message.send", wamid))
    assert first["data"] == again["data"] and first["data"]["answers"] == [wamid]
    assert len(await sandbox.llm_requests()) == 1  # written once; the sender sends an id once


async def test_a_reply_recorded_by_a_worker_that_died_before_publishing_is_published_as_recorded(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    wamid = await chat.write("¿Aceptan mascotas?", at)
    envelope = chat.received(wamid, "¿Aceptan mascotas?", at)
    recorded = ledger.Reply(ledger.reply_id(wamid, "reply"), wamid, "reply", (wamid,), ("Sí, con gusto.",), "Sí.")
    async with infra.pool.acquire() as conn:
        await ledger.record(conn, envelope.data, recorded)
    await reply(envelope, deps)
    (command,) = await tap.wait_for("message.send")
    assert command["id"] == str(recorded.id) and command["data"]["text"] == "Sí, con gusto."
    assert await sandbox.llm_requests() == []


async def test_an_older_message_that_commits_after_a_newer_one_was_answered_gets_its_own_answer(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    earlier = at - timedelta(seconds=1)
    # Meta promises no order between webhooks (a retried POST comes late): the older message's webhook reaches
    # the router, and commits, after the newer one was answered; by Meta's timestamp it comes first.
    newer = await chat.write("¿Tienen apartamentos?", at)
    await reply(chat.received(newer, "¿Tienen apartamentos?", at), deps)
    older = await chat.write("¿y el precio?", earlier)
    await reply(chat.received(older, "¿y el precio?", earlier), deps)

    first, second = await tap.wait_for("message.send", count=2)
    assert first["data"]["answers"] == [newer] and second["data"]["answers"] == [older]
    assert first["data"]["text"] != second["data"]["text"]
    _, asked_second = await sandbox.llm_requests()
    # The earlier exchange is history; the late message is the turn waiting for an answer, once.
    assert prompt(asked_second) == [
        ("user", "¿Tienen apartamentos?"),
        ("assistant", first["data"]["text"]),
        ("user", "¿y el precio?"),
    ]


async def test_a_message_the_newer_one_will_not_answer_is_not_coalesced_into_it(
    deps: Deps, chat, infra: Infrastructure, tap: Tap
) -> None:
    # A message redelivered a day late (a replayed dead letter) is past the newer message's horizon: the newer
    # reply will not answer it, so it must answer itself rather than be acked as coalesced and never answered.
    at = now()
    stale = await chat.write("¿Siguen teniendo el apartamento?", at - timedelta(hours=25))
    fresh = await chat.write("Hola", at)
    await reply(chat.received(stale, "¿Siguen teniendo el apartamento?", at - timedelta(hours=25)), deps)
    await reply(chat.received(fresh, "Hola", at), deps)

    first, second = await tap.wait_for("message.send", count=2)
    assert first["data"]["answers"] == [stale] and second["data"]["answers"] == [fresh]


async def test_a_burst_inside_the_window_shows_typing_waits_in_a_retry_queue_and_gets_one_reply(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    waiting = dataclasses.replace(deps, reply_burst_window_ms=1000)
    at = now()
    burst = [await chat.write(text, at) for text in ("Hola", "busco apartamento", "en Chapinero")]
    for wamid, text in zip(burst, ("Hola", "busco apartamento", "en Chapinero"), strict=True):
        with pytest.raises(Retry, match="burst window") as waited:
            await reply(chat.received(wamid, text, at), waiting)
        assert waited.value.counts is False and 0 < (waited.value.delay_s or 0) <= 1
    typing = await tap.wait_for("message.mark_read", count=3)
    assert {t["data"]["wamid"] for t in typing} == set(burst)
    await chat.past_the_burst_window(burst, waiting.reply_burst_window_ms)  # the retry queue's delay has passed
    for wamid, text in zip(burst, ("Hola", "busco apartamento", "en Chapinero"), strict=True):
        await reply(chat.received(wamid, text, at), waiting)
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["answers"] == burst and command["data"]["reply_to_wamid"] == burst[-1]
    (request,) = await sandbox.llm_requests()
    assert prompt(request) == [("user", "Hola"), ("user", "busco apartamento"), ("user", "en Chapinero")]


async def test_a_recorded_reply_is_in_the_next_prompt_once_whether_or_not_the_router_has_it_yet(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    first = await chat.write("Hola", at - timedelta(minutes=2))
    await reply(chat.received(first, "Hola", at - timedelta(minutes=2)), deps)
    (answer,) = await tap.wait_for("message.send")
    second = await chat.write("¿Tienen parqueadero?", at - timedelta(minutes=1))
    await reply(chat.received(second, "¿Tienen parqueadero?", at - timedelta(minutes=1)), deps)  # not sent yet
    await chat.sent(answer, at - timedelta(seconds=90))  # now the sender has sent it and the router recorded it
    _, answer_two = await tap.wait_for("message.send", count=2)
    third = await chat.write("¿Y ascensor?", at)
    await reply(chat.received(third, "¿Y ascensor?", at), deps)
    _, before_sent, after_sent = await sandbox.llm_requests()
    assert prompt(before_sent) == [
        ("user", "Hola"),
        ("assistant", answer["data"]["text"]),
        ("user", "¿Tienen parqueadero?"),
    ]
    assert prompt(after_sent) == [
        ("user", "Hola"),
        ("assistant", answer["data"]["text"]),
        ("user", "¿Tienen parqueadero?"),
        ("assistant", answer_two["data"]["text"]),
        ("user", "¿Y ascensor?"),
    ]


async def test_a_reply_longer_than_whatsapp_allows_goes_as_several_messages_in_order_all_in_the_ledger(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:
    at = now()
    # The stub answers "(persona) Re: <the customer's text>": a customer pasting a long text gets a longer reply.
    pasted = "\n\n".join(f"Párrafo {i}. " + "Detalles del apartamento en Chapinero. " * 40 for i in range(6))
    wamid = await chat.write(pasted, at)
    envelope = chat.received(wamid, pasted, at)
    await reply(envelope, deps)
    parts = await tap.wait_for("message.send", count=3)
    first = derived_id("message.send", wamid)
    assert [p["id"] for p in parts] == [str(ledger.part_send_id(first, n)) for n in (1, 2, 3)]
    assert parts[0]["id"] == str(first)  # part 1 keeps the id a single reply has: redelivery stays one send
    texts = [p["data"]["text"] for p in parts]
    assert all(len(t.encode("utf-16-le")) // 2 <= MAX_TEXT_CHARS for t in texts)
    assert pasted.split() == " ".join(texts).split(" Re: ", 1)[1].split()  # nothing lost
    assert [p["data"]["reply_to_wamid"] for p in parts] == [wamid, None, None]
    # Each part names the one before it: the sender sends them in this order, whatever order it takes them in.
    assert [p["data"]["after_send_id"] for p in parts] == [None, parts[0]["id"], parts[1]["id"]]
    assert all(p["data"]["answers"] == [wamid] for p in parts)
    stored = await infra.pool.fetch(
        "SELECT send_id::text, text FROM ai_worker.reply_parts WHERE reply_id = $1 ORDER BY part", first
    )
    assert [(r["send_id"], r["text"]) for r in stored] == [(p["id"], p["data"]["text"]) for p in parts]

    await reply(envelope, deps)  # redelivered: the same three sends again, in the same order
    again = (await tap.wait_for("message.send", count=6))[3:]
    assert [(p["id"], p["data"]["text"]) for p in again] == [(p["id"], p["data"]["text"]) for p in parts]
    assert len(await sandbox.llm_requests()) == 1
    assert await answers_of(infra, str(first)) == [wamid]


async def test_no_typing_is_shown_for_a_reply_the_client_s_policy_will_pause(
    deps: Deps, make_chat, make_tenant, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    chat = make_chat(await make_tenant(free_quota=0, quota_policy="pause_ai"))
    at = now()
    wamid = await chat.write("¿Hola?", at)
    waiting = dataclasses.replace(deps, reply_burst_window_ms=1000)
    with pytest.raises(Retry, match="burst window"):
        await reply(chat.received(wamid, "¿Hola?", at), waiting)
    await chat.past_the_burst_window([wamid], waiting.reply_burst_window_ms)
    await reply(chat.received(wamid, "¿Hola?", at), waiting)
    (paused,) = await tap.wait_for("reply.paused")
    await tap.drained()
    assert paused["data"]["wamid"] == wamid and tap.of_type("message.mark_read") == []
    assert await sandbox.llm_requests() == []

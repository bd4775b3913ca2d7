"""The ai-worker with the real openai client against the sandbox's OpenAI-compatible stub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ai_worker.handlers import Deps, reply
from shared.contracts.envelope import derived_id
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import new_wamid
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant


async def test_reply_is_written_in_the_client_s_personality_and_sent_as_a_command(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    text = "Hola, ¿tienen apartamentos en Chapinero?"
    wamid = await chat.write(text, at)
    await reply(chat.received(wamid, text, at), deps)

    (command,) = await tap.wait_for("message.send")
    (typing,) = tap.of_type("message.mark_read")  # published before the model was asked
    assert typing["data"]["wamid"] == wamid and typing["data"]["typing"] is True
    assert tap.messages.index(typing) < tap.messages.index(command)
    assert command["id"] == str(derived_id("message.send", wamid))  # the send's idempotency key
    assert command["data"]["to"] == chat.customer and command["data"]["reply_to_wamid"] == wamid
    assert tenant.personality[:40] in command["data"]["text"]  # the stub echoes the persona it was given
    assert text in command["data"]["text"]
    (request,) = await sandbox.llm_requests()
    assert request["model"] == "stub-model"
    assert request["messages"][0]["role"] == "system" and tenant.personality in request["messages"][0]["content"]


async def test_prompt_carries_the_recent_conversation_in_order(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await chat.write("Buenas, busco arriendo", now - timedelta(minutes=5))
    await chat.write("¡Hola! ¿En qué barrio?", now - timedelta(minutes=4), direction="outbound")
    wamid = await chat.write("En Chapinero", now)
    await reply(chat.received(wamid, "En Chapinero", now), deps)
    (request,) = await sandbox.llm_requests()
    assert [(m["role"], m["content"]) for m in request["messages"][1:]] == [
        ("user", "Buenas, busco arriendo"),
        ("assistant", "¡Hola! ¿En qué barrio?"),
        ("user", "En Chapinero"),
    ]


async def test_a_burst_gets_one_reply_from_its_latest_message(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = await chat.write("Hola", now)
    second = await chat.write("¿tienen apartamentos?", now)  # same second: stored after
    await reply(chat.received(first, "Hola", now), deps)
    await reply(chat.received(second, "¿tienen apartamentos?", now), deps)
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["reply_to_wamid"] == second
    assert len(await sandbox.llm_requests()) == 1


async def test_llm_outage_is_retried_not_lost(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    wamid = await chat.write("¿hay alguien?", at)
    import aiohttp

    async with aiohttp.ClientSession() as session:
        await session.post(f"{sandbox.llm_url}/_stub/faults", json={"status": 500, "count": 1})
    with pytest.raises(Retry, match="LLM unavailable"):
        await reply(chat.received(wamid, "¿hay alguien?", at), deps)
    await reply(chat.received(wamid, "¿hay alguien?", at), deps)  # the retry
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["reply_to_wamid"] == wamid


async def test_when_free_conversations_are_used_up_pause_ai_clients_get_no_reply_and_an_event(
    deps: Deps, make_chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(free_quota=0, quota_policy="pause_ai")
    chat = make_chat(tenant)
    at = datetime.now(UTC).replace(microsecond=0)
    wamid = await chat.write("¿Hola?", at)
    await reply(chat.received(wamid, "¿Hola?", at), deps)
    (paused,) = await tap.wait_for("reply.paused")
    assert paused["data"]["wamid"] == wamid and paused["tenant_id"] == str(tenant.client_id)
    assert tap.of_type("message.send") == [] and await sandbox.llm_requests() == []


async def test_count_paid_clients_keep_getting_replies_past_the_quota(
    deps: Deps, make_chat, infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    tenant = await make_tenant(free_quota=0, quota_policy="count_paid")
    chat = make_chat(tenant)
    at = datetime.now(UTC).replace(microsecond=0)
    wamid = await chat.write("¿Hola?", at)
    await reply(chat.received(wamid, "¿Hola?", at), deps)
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["reply_to_wamid"] == wamid


async def test_a_photo_without_words_is_answered_and_a_reaction_is_not(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    reaction = await chat.write("👍", at, message_type="reaction")
    photo = await chat.write(None, at, message_type="image")
    await reply(chat.received(reaction, "👍", at, message_type="reaction"), deps)
    await reply(chat.received(photo, None, at, message_type="image"), deps)
    (request,) = await sandbox.llm_requests()
    assert request["messages"][-1] == {"role": "user", "content": "[image from the customer, with no text]"}
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["reply_to_wamid"] == photo


async def test_an_event_that_outruns_the_router_s_commit_is_retried_not_answered_blind(
    deps: Deps, chat, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    not_yet_stored = new_wamid()
    with pytest.raises(Retry, match="not visible"):
        await reply(chat.received(not_yet_stored, "Hola", at), deps)
    assert await sandbox.llm_requests() == []


async def test_a_reaction_after_a_question_does_not_swallow_its_answer(
    deps: Deps, chat, infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    question = await chat.write("¿Tienen parqueadero?", at)
    reaction = await chat.write("👍", at, message_type="reaction")
    await reply(chat.received(question, "¿Tienen parqueadero?", at), deps)
    await reply(chat.received(reaction, "👍", at, message_type="reaction"), deps)
    (command,) = await tap.wait_for("message.send")
    assert command["data"]["reply_to_wamid"] == question

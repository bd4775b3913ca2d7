"""A number can move to another client; its past stays with the client it was written to. Everything the
ai-worker reads for a reply — the conversation, its own replies, the month's usage — is the replying client's."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from ai_worker.handlers import Deps, reply
from shared.messaging.runtime import Infrastructure
from tests.support.billing import window_opened
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import move_tenant_number

SECRET = "el código de la portería es 4321"


async def test_a_number_s_new_owner_never_sees_the_previous_owner_s_conversation_in_its_prompt(
    deps: Deps, make_chat, make_tenant, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant(), await make_tenant()
    at = datetime.now(UTC).replace(microsecond=0)
    with_a = make_chat(a)
    question = await with_a.write(f"Hola, {SECRET}", at - timedelta(minutes=3))
    await reply(with_a.received(question, f"Hola, {SECRET}", at - timedelta(minutes=3)), deps)  # A's reply: ledger
    (answer,) = await tap.wait_for("message.send")
    await with_a.sent(answer, at - timedelta(minutes=2))
    unanswered = await with_a.write(f"¿Recibió? {SECRET}", at - timedelta(minutes=1))  # never answered under A

    await move_tenant_number(infra.pool, a, b)
    with_b = make_chat(dataclasses.replace(a, client_id=b.client_id, personality=b.personality))
    wamid = await with_b.write("Buenas, ¿quién habla?", at)
    await reply(with_b.received(wamid, "Buenas, ¿quién habla?", at), deps)

    _, asked_for_b = await sandbox.llm_requests()
    assert SECRET not in json.dumps(asked_for_b, ensure_ascii=False)
    assert [m["content"] for m in asked_for_b["messages"][1:]] == ["Buenas, ¿quién habla?"]
    _, b_reply = await tap.wait_for("message.send", count=2)
    assert b_reply["tenant_id"] == str(b.client_id) and b_reply["data"]["answers"] == [wamid]
    assert unanswered not in b_reply["data"]["answers"]


async def test_the_previous_owner_s_open_conversation_does_not_spare_the_new_owner_s_quota(
    deps: Deps, make_chat, make_tenant, infra: Infrastructure, sandbox: Sandbox, tap: Tap
) -> None:  # type: ignore[no-untyped-def]
    a = await make_tenant()
    b = await make_tenant(quota_policy="pause_ai")
    at = datetime.now(UTC).replace(microsecond=0)
    with_a = make_chat(a)
    # A opened a 24-hour window with this customer an hour ago: within it, A's replies cost nothing new.
    await window_opened(infra, a, with_a.customer, at - timedelta(hours=1))
    # The number moves to B, whose quota for it is spent.
    await move_tenant_number(infra.pool, a, b, free_quota=0)
    with_b = make_chat(dataclasses.replace(a, client_id=b.client_id, personality=b.personality))
    wamid = await with_b.write("¿Hola?", at)
    await reply(with_b.received(wamid, "¿Hola?", at), deps)
    (paused,) = await tap.wait_for("reply.paused")  # B has no window open and no free conversation left
    assert paused["data"]["wamid"] == wamid and paused["tenant_id"] == str(b.client_id)
    assert await sandbox.llm_requests() == []
    kind = await infra.pool.fetchval("SELECT kind FROM ai_worker.replies WHERE trigger_wamid = $1", wamid)
    assert kind == "paused"

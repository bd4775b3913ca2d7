"""``reply`` called directly with the Deps of the ai-worker's own ``bootstrap()``: the settings it reads reach the
handler (model, burst window), and what it publishes is held to its role's contract."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ai_worker.handlers import Deps, reply
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MessageReceived
from shared.messaging.consumer import Retry
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import text_message
from tests.support.router import customer_wrote
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"


def received(tenant: Tenant, wamid: str, text: str, at: datetime) -> Envelope[MessageReceived]:
    return wrap(
        MessageReceived(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            display_phone_number="576015550100",
            wamid=wamid,
            wa_id=CUSTOMER,
            profile_name="Ana",
            message_type="text",
            text=text,
            timestamp=at,
        ),
        correlation_id="corr-unit",
        tenant_id=tenant.client_id,
    )


async def test_a_message_inside_the_burst_window_waits_then_is_answered_in_the_client_s_personality(
    deps: Deps, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    assert deps.reply_burst_window_ms == 1000  # bootstrap() handed the ai-worker's setting down (conftest)
    at = datetime.now(UTC).replace(microsecond=0)
    text = "¿Puedo visitar el apartamento el martes?"
    wamid = await customer_wrote(infra, tenant, text_message(text, sender=CUSTOMER, timestamp=int(at.timestamp())))

    with pytest.raises(Retry):  # just stored: more bubbles of the same burst may follow
        await reply(received(tenant, wamid, text, at), deps)
    assert await sandbox.llm_requests() == []

    await asyncio.sleep(deps.reply_burst_window_ms / 1000 + 0.2)
    await reply(received(tenant, wamid, text, at), deps)
    (command,) = await tap.wait_for("message.send")
    assert command["id"] == str(derived_id("message.send", wamid))
    assert command["data"]["to"] == CUSTOMER and command["data"]["reply_to_wamid"] == wamid
    assert tenant.personality[:40] in command["data"]["text"]
    (request,) = await sandbox.llm_requests()
    assert request["model"] == "stub-model"  # the model named in the ai-worker's settings
    version = await infra.pool.fetchval(
        "SELECT personality_version FROM directory_read.clients WHERE id = $1", tenant.client_id
    )
    written_by = await infra.pool.fetchval(
        "SELECT personality_version FROM ai_worker.replies WHERE trigger_wamid = $1", wamid
    )
    assert version == written_by == 1  # the reply records the personality version that wrote it


async def test_a_redelivered_message_publishes_the_same_send_and_asks_the_model_once(
    deps: Deps, infra: Infrastructure, sandbox: Sandbox, tap: Tap, tenant: Tenant
) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    text = "Hola"
    wamid = await customer_wrote(infra, tenant, text_message(text, sender=CUSTOMER, timestamp=int(at.timestamp())))
    await asyncio.sleep(deps.reply_burst_window_ms / 1000 + 0.2)

    await reply(received(tenant, wamid, text, at), deps)
    await reply(received(tenant, wamid, text, at), deps)
    await tap.wait_for("message.send", count=2)
    first, second = tap.of_type("message.send")
    assert first["id"] == second["id"] and first["data"]["text"] == second["data"]["text"]
    assert len(await sandbox.llm_requests()) == 1

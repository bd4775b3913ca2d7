"""A message to a number registered too late is kept whole, and answered once an operator replays it."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from router.deps import Deps
from router.handlers import route_webhook
from router.parked import replay, replay_parts, summary
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap, get_one
from tests.support.payloads import new_wamid, notification, text_message
from tests.support.router import raw_webhook
from tests.support.tenants import Tenant, create_tenant


async def test_parked_messages_of_a_number_registered_later_are_replayed_once(
    infra: Infrastructure, tap: Tap, database_url: str
) -> None:
    late = str(random.randint(10**14, 10**15 - 1))
    wamid = new_wamid()
    payload = notification(late, name="Camila", messages=[text_message("¿Están abiertos?", wamid=wamid)])
    deps = Deps(infra.pool, infra.publisher)
    await route_webhook(raw_webhook(payload), deps)
    await tap.wait_for("webhook.parked", where=lambda e: e["data"]["phone_number_id"] == late)
    assert any(row["phone_number_id"] == late and row["waiting"] == 1 for row in await summary(infra.pool, 100))
    with pytest.raises(LookupError, match="not in the directory"):
        await replay(infra.pool, infra.publisher, late)

    client = await create_tenant(
        database_url, name="Llegó tarde", personality="-", phone_number_id=late, display_name=""
    )
    assert await replay(infra.pool, infra.publisher, late, dry_run=True) == 1
    assert await replay(infra.pool, infra.publisher, late) == 1
    assert await replay(infra.pool, infra.publisher, late) == 0  # never twice

    # What the replay published is what the gateway would have: the router now routes it to its tenant.
    published = await get_one(infra.connection, infra.names.queue("router"))
    await route_webhook(Envelope[WebhookReceived].model_validate(json.loads(published.body)), deps)
    (received,) = await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    assert received["tenant_id"] == str(client.client_id)
    assert received["data"]["profile_name"] == "Camila" and received["data"]["text"] == "¿Están abiertos?"


async def test_a_post_parked_whole_by_an_older_router_is_replayed_and_its_messages_answered(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    # What the router did before it read lone surrogates: the whole POST parked, its valid neighbour with it.
    broken, fine = text_message("roto \ud800", sender="573001234500"), text_message("Hola", sender="573001234501")
    text = json.dumps(notification(tenant.phone_number_id, messages=[broken, fine]))
    part_id = await infra.pool.fetchval(
        """INSERT INTO router.parked (payload_sha256, reason, phone_number_id, payload)
           VALUES (encode(sha256(convert_to($1, 'UTF8')), 'hex'), 'not a Meta notification: Invalid JSON', NULL, $2)
           RETURNING id""",
        text,
        {"raw": text},
    )
    deps = Deps(infra.pool, infra.publisher)

    assert await replay_parts(infra.pool, infra.publisher, part_ids=[part_id]) == 1
    assert await replay_parts(infra.pool, infra.publisher, part_ids=[part_id]) == 0  # never twice

    published = await get_one(infra.connection, infra.names.queue("router"))
    await route_webhook(Envelope[WebhookReceived].model_validate(json.loads(published.body)), deps)
    events = await tap.wait_for("message.received", count=2)
    assert sorted(e["data"]["text"] for e in events) == ["Hola", "roto \ufffd"]


async def test_a_part_parked_again_after_a_replay_is_waiting_again(infra: Infrastructure, tap: Tap) -> None:
    raw = '{"object": "whatsapp_business_account", "entry": [ {"id": "1", "changes": [ ' + new_wamid()
    deps = Deps(infra.pool, infra.publisher)
    await route_webhook(wrap(WebhookReceived(body=raw, received_at=datetime.now(UTC)), correlation_id="c"), deps)
    part_id = await infra.pool.fetchval("SELECT id FROM router.parked WHERE payload->>'raw' = $1", raw)
    assert await replay_parts(infra.pool, infra.publisher, part_ids=[part_id]) == 1

    published = await get_one(infra.connection, infra.names.queue("router"))
    assert json.loads(published.body)["data"]["body"] == raw  # the exact bytes Meta sent, kept aside
    await route_webhook(Envelope[WebhookReceived].model_validate(json.loads(published.body)), deps)
    assert await infra.pool.fetchval("SELECT replayed_at FROM router.parked WHERE id = $1", part_id) is None

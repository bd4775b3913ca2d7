"""A message to a number registered too late is kept whole, and answered once an operator replays it."""

from __future__ import annotations

import json
import random

import asyncpg
import pytest

from gateway.directory import upsert_client, upsert_number
from router.deps import Deps
from router.handlers import route_webhook
from router.parked import replay, summary
from shared import topology
from shared.envelope import Envelope
from shared.messages import WebhookReceived
from shared.runtime import Infrastructure
from tests.support.broker import Tap, get_one
from tests.support.payloads import new_wamid, notification, text_message
from tests.support.router import raw_webhook


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

    conn = await asyncpg.connect(database_url)
    try:
        client = await upsert_client(conn, name="Llegó tarde", personality="-")
        await upsert_number(
            conn,
            client_id=client.id,
            phone_number=f"+57601{random.randint(2000000, 9999999)}",
            phone_number_id=late,
            waba_id="200000000000009",
        )
    finally:
        await conn.close()
    assert await replay(infra.pool, infra.publisher, late, dry_run=True) == 1
    assert await replay(infra.pool, infra.publisher, late) == 1
    assert await replay(infra.pool, infra.publisher, late) == 0  # never twice

    # What the replay published is what the gateway would have: the router now routes it to its tenant.
    published = await get_one(infra.connection, topology.Topology(infra.settings.broker_prefix).queue("router"))
    await route_webhook(Envelope[WebhookReceived].model_validate(json.loads(published.body)), deps)
    (received,) = await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == wamid)
    assert received["tenant_id"] == str(client.id)
    assert received["data"]["profile_name"] == "Camila" and received["data"]["text"] == "¿Están abiertos?"

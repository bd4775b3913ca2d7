"""The inbound path in one process: the real gateway app and the real router consumer, on the real broker and
database. Bad input gets a clear outcome and loses nothing; concurrent duplicates produce one event each."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.signature import sign
from router.deps import Deps
from shared.messaging import topology
from shared.messaging.consumer import Consumer
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap, queue_depth
from tests.support.payloads import body, new_wamid, notification, text_message
from tests.support.router import served_router
from tests.support.tenants import Tenant

pytestmark = pytest.mark.integration


@dataclass
class Inbound:
    url: str
    infra: Infrastructure
    router: Consumer[Deps]

    async def post(self, raw: bytes, session: aiohttp.ClientSession | None = None) -> int:
        headers = {"X-Hub-Signature-256": sign(raw, "test-app-secret")}
        if session is not None:
            async with session.post(self.url, data=raw, headers=headers) as response:
                return response.status
        async with aiohttp.ClientSession() as own, own.post(self.url, data=raw, headers=headers) as response:
            return response.status

    async def settled(self, timeout: float = 30) -> None:
        """Bounded poll until the router has nothing queued, retrying or in hand."""
        names = topology.Topology(self.infra.settings.broker_prefix)
        queues = [names.queue("router"), *(names.retry_queue("router", d) for d in topology.RETRY_TIERS_S)]
        deadline = time.monotonic() + timeout
        while True:
            depths = [await queue_depth(self.infra.connection, q) for q in queues]
            if not any(depths) and self.router.in_flight == 0:
                return
            assert time.monotonic() < deadline, f"router not settled: {depths}, in flight {self.router.in_flight}"
            await asyncio.sleep(0.05)


@pytest.fixture
async def inbound(infra: Infrastructure) -> AsyncIterator[Inbound]:
    server = TestServer(create_app(infra.settings))
    await server.start_server()
    async with served_router(infra) as router:
        yield Inbound(str(server.make_url("/webhook/whatsapp")), infra, router)
    await server.close()


async def parked_reasons(infra: Infrastructure, reason_prefix: str) -> list[dict]:  # type: ignore[type-arg]
    rows = await infra.pool.fetch(
        "SELECT reason, payload FROM router.parked WHERE reason LIKE $1 || '%'", reason_prefix
    )
    return [dict(r) for r in rows]


async def test_signed_but_malformed_json_is_accepted_and_parked_with_the_reason(inbound: Inbound, tap: Tap) -> None:
    raw = b'{"object": "whatsapp_business_account", "entry": [ {"id": "1", "changes": [ ' + new_wamid().encode()
    assert await inbound.post(raw) == 200
    (_parked,) = await tap.wait_for("webhook.parked", where=lambda e: e["data"]["reason"].startswith("not a Meta"))
    rows = [r for r in await parked_reasons(inbound.infra, "not a Meta") if r["payload"]["raw"] == raw.decode()]
    assert len(rows) == 1
    async with (
        aiohttp.ClientSession() as session,
        session.get(inbound.url.replace("/webhook/whatsapp", "/metrics")) as m,
    ):
        counted = [
            line
            for line in (await m.text()).splitlines()
            if line.startswith('wamux_parked_total{reason="not a Meta notification"}')
        ]
    assert counted and float(counted[0].split()[-1]) >= 1


async def test_invalid_utf8_is_kept_byte_for_byte(inbound: Inbound, tap: Tap) -> None:
    raw = b'{"object": "whatsapp_business_account", "x": "\xff\xfe' + new_wamid().encode() + b'"}'
    assert await inbound.post(raw) == 200
    await tap.wait_for("webhook.parked", where=lambda e: e["data"]["reason"] == "body is not UTF-8")
    kept = [
        r
        for r in await parked_reasons(inbound.infra, "body is not UTF-8")
        if base64.b64decode(r["payload"]["base64"]) == raw
    ]
    assert len(kept) == 1


async def test_a_thousand_update_batch_is_routed_whole(inbound: Inbound, tap: Tap, tenant: Tenant) -> None:
    messages = [text_message(f"mensaje {i}", sender=f"5730000{i:05d}") for i in range(1000)]
    assert await inbound.post(body(notification(tenant.phone_number_id, messages=messages))) == 200
    events = await tap.wait_for("message.received", count=1000, timeout=60)
    assert len({e["data"]["wamid"] for e in events}) == 1000
    stored = await inbound.infra.pool.fetchval(
        "SELECT count(*) FROM router.messages WHERE phone_number_id = $1", tenant.phone_number_id
    )
    assert stored == 1000


async def test_a_3_mb_body_from_meta_is_accepted_and_routed(inbound: Inbound, tap: Tap, tenant: Tenant) -> None:
    messages = [{**text_message(f"grande {i}"), "unknown_blob": "x" * 300_000} for i in range(10)]
    raw = body(notification(tenant.phone_number_id, messages=messages))
    assert len(raw) > 3_000_000
    assert await inbound.post(raw) == 200
    events = await tap.wait_for("message.received", count=10, timeout=30)
    assert sorted(e["data"]["text"] for e in events) == sorted(f"grande {i}" for i in range(10))


async def test_one_broken_message_does_not_hide_its_neighbours(inbound: Inbound, tap: Tap, tenant: Tenant) -> None:
    good = [text_message("antes"), text_message("después")]
    payload = notification(tenant.phone_number_id, messages=[good[0], {"type": "text", "text": 42}, good[1]])
    assert await inbound.post(body(payload)) == 200
    events = await tap.wait_for("message.received", count=2)
    assert sorted(e["data"]["text"] for e in events) == ["antes", "después"]
    await tap.wait_for("webhook.parked", where=lambda e: e["data"]["reason"].startswith("unreadable message"))


async def test_the_same_batch_posted_concurrently_yields_one_event_per_update(
    inbound: Inbound, tap: Tap, tenant: Tenant
) -> None:
    wamid = new_wamid()
    messages = [text_message(f"ráfaga {i}", sender=f"5731111{i:05d}") for i in range(50)]
    statuses = [
        {"id": wamid, "status": s, "timestamp": str(int(time.time())), "recipient_id": "573001112233"}
        for s in ("sent", "delivered", "read")
    ]
    raw = body(notification(tenant.phone_number_id, messages=messages, statuses=statuses))
    sessions = [aiohttp.ClientSession() for _ in range(5)]
    try:
        answers = await asyncio.gather(*(inbound.post(raw, s) for s in sessions for _ in range(2)))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    assert answers == [200] * 10
    await tap.wait_for("message.received", count=50, timeout=30)
    await tap.wait_for("message.status", count=3, timeout=30)
    await inbound.settled()
    await tap.drained()
    assert len(tap.of_type("message.received")) == 50
    assert len({e["id"] for e in tap.of_type("message.received")}) == 50
    assert sorted(e["data"]["status"] for e in tap.of_type("message.status")) == ["delivered", "read", "sent"]


async def test_a_nul_in_one_message_is_answered_beside_its_neighbour_and_nothing_is_dead_lettered(
    inbound: Inbound, tap: Tap, tenant: Tenant
) -> None:
    poison, fine = text_message("hola\x00mundo"), text_message("¿Siguen abiertos?")
    raw = body(notification(tenant.phone_number_id, messages=[poison, fine]))
    assert b"\\u0000" in raw
    assert await inbound.post(raw) == 200
    events = await tap.wait_for("message.received", count=2)
    assert sorted(e["data"]["text"] for e in events) == ["hola\ufffdmundo", "¿Siguen abiertos?"]
    await inbound.settled()
    names = inbound.infra.names
    assert await queue_depth(inbound.infra.connection, names.dead_queue("router")) == 0

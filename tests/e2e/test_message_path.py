"""One customer message the whole way: Meta's webhook → gateway → router → ai-worker → sender → Meta, counted
by billing. Every service runs as its own process; the test only speaks HTTP and reads the database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import asyncpg
import pytest

from launcher.stack import Stack
from shared.logging import wamid_hash
from tests.support.payloads import body, new_wamid, notification, text_message
from tests.support.tenants import Tenant, create_tenant

pytestmark = pytest.mark.e2e
T = TypeVar("T")
QUESTION = "Hola, ¿tienen apartamentos en Chapinero?"


def signed(raw: bytes, secret: str = "e2e-app-secret") -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20) -> T:
    """Bounded poll: the value once ``probe`` gives one, or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.1)


async def post_webhook(stack: Stack, raw: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.gateway_url}/webhook/whatsapp", data=raw, headers=headers) as response,
    ):
        return response.status


async def outbox(stack: Stack, tenant: Tenant, to: str) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{stack.env['WAMUX_GRAPH_BASE_URL']}/_sandbox/outbox",
            params={"phone_number_id": tenant.phone_number_id, "to": to},
        ) as response,
    ):
        return await response.json()  # type: ignore[no-any-return]


async def usage(database_url: str, tenant: Tenant) -> asyncpg.Record | None:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchrow(
            "SELECT * FROM dashboard.number_usage WHERE phone_number_id = $1", tenant.phone_number_id
        )
    finally:
        await conn.close()


async def test_customer_message_gets_an_ai_reply_and_counts_one_conversation(stack: Stack, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110001"
    wamid = new_wamid()
    raw = body(notification(tenant.phone_number_id, messages=[text_message(QUESTION, sender=customer, wamid=wamid)]))
    started = time.monotonic()
    assert await post_webhook(stack, raw, signed(raw)) == 200

    (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "a reply at the emulator")
    elapsed_ms = (time.monotonic() - started) * 1000
    assert QUESTION in reply["text"] and tenant.personality[:40] in reply["text"]
    assert reply["request"]["context"] == {"message_id": wamid}
    print(f"end-to-end: webhook to reply at Meta in {elapsed_ms:.0f} ms")

    async def read_with_typing() -> list[dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{stack.env['WAMUX_GRAPH_BASE_URL']}/_sandbox/reads",
                params={"phone_number_id": tenant.phone_number_id},
            ) as response,
        ):
            return [r for r in await response.json() if r["message_id"] == wamid and r["typing_indicator"]]

    await eventually(read_with_typing, "the customer's message marked read with typing…")

    counted = await eventually(
        lambda: _when(usage(database_url, tenant), lambda r: r["messages_out"] == 1), "the reply counted"
    )
    assert counted["conversations_this_month"] == 1 and counted["free_remaining"] == 999
    assert counted["messages_in"] == 1

    # The emulator's signed status webhooks come back through the gateway and are kept for reconciliation.
    async def statuses() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT status FROM billing.meta_pricing WHERE wamid = $1", reply["wamid"])
        finally:
            await conn.close()
        return sorted(r["status"] for r in rows) if len(rows) == 3 else []

    assert await eventually(statuses, "sent/delivered/read recorded") == ["delivered", "read", "sent"]
    conn = await asyncpg.connect(database_url)
    try:  # Meta echoes the send's idempotency key on its statuses: what lets a crashed sender know it sent
        echoed = await conn.fetchval(
            """SELECT count(*) FROM router.statuses st JOIN sender.sends se ON se.send_id::text = st.callback_data
                WHERE st.wamid = $1 AND se.wamid = $1""",
            reply["wamid"],
        )
    finally:
        await conn.close()
    assert echoed == 3
    await eventually(
        lambda: _when(usage(database_url, tenant), lambda r: r["messages_delivered"] == 1), "the delivery counted"
    )


async def _when(fetch: Awaitable[T | None], condition: Callable[[T], bool]) -> T | None:
    value = await fetch
    return value if value is not None and condition(value) else None


async def test_the_same_webhook_three_times_gets_one_reply_and_one_conversation(
    stack: Stack, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110002"
    wamid = new_wamid()
    raw = body(notification(tenant.phone_number_id, messages=[text_message(QUESTION, sender=customer, wamid=wamid)]))
    statuses = await asyncio.gather(*(post_webhook(stack, raw, signed(raw)) for _ in range(3)))
    assert statuses == [200, 200, 200]

    # The router says when it has seen both duplicates: after that no second reply can be on its way.
    async def duplicates_seen() -> bool:
        return (
            sum(
                1
                for line in stack.log("router").read_text().splitlines()
                if line.startswith("{")
                and json.loads(line).get("event") == "message.duplicate"
                and json.loads(line).get("wamid") == wamid_hash(wamid)
            )
            == 2
        )

    await eventually(duplicates_seen, "the router dropping two duplicates")
    await eventually(lambda: outbox(stack, tenant, customer), "the reply")
    counted = await eventually(
        lambda: _when(usage(database_url, tenant), lambda r: r["messages_out"] >= 1), "the reply counted"
    )
    assert len(await outbox(stack, tenant, customer)) == 1
    assert counted["conversations_this_month"] == 1 and counted["messages_in"] == 1


async def test_a_bad_signature_is_refused_and_nothing_happens(stack: Stack, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110003"
    forged_wamid = new_wamid()
    forged = body(
        notification(tenant.phone_number_id, messages=[text_message("forged", sender=customer, wamid=forged_wamid)])
    )
    assert await post_webhook(stack, forged, signed(forged, secret="not-the-app-secret")) == 401
    assert await post_webhook(stack, forged, {"Content-Type": "application/json"}) == 401

    # A genuine message afterwards goes through; the forged one never reached the router.
    genuine = body(notification(tenant.phone_number_id, messages=[text_message("genuino", sender=customer)]))
    assert await post_webhook(stack, genuine, signed(genuine)) == 200
    (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the genuine message's reply")
    assert "genuino" in reply["text"]
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM router.messages WHERE wamid = $1", forged_wamid) == 0
    finally:
        await conn.close()


async def test_a_crashed_ai_worker_loses_no_message(stack: Stack, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110004"
    stack.kill("ai-worker")
    await stack.processes["ai-worker"].wait()
    raw = body(notification(tenant.phone_number_id, messages=[text_message("¿siguen ahí?", sender=customer)]))
    assert await post_webhook(stack, raw, signed(raw)) == 200
    await stack.start_one("ai-worker")
    await stack.wait_ready(["ai-worker"], 30)
    (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the reply after the restart")
    assert "¿siguen ahí?" in reply["text"]


async def test_a_customer_photo_is_answered_and_its_client_can_download_it(stack: Stack, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110005"
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64
    graph = stack.env["WAMUX_GRAPH_BASE_URL"]
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{graph}/_sandbox/customer_message",
            json={
                "phone_number_id": tenant.phone_number_id,
                "display_phone_number": tenant.phone_number.lstrip("+"),
                "from": customer,
                "name": "Ana",
                "media": {
                    "type": "image",
                    "mime_type": "image/jpeg",
                    "caption": "¿Este en Chapinero?",
                    "data_base64": base64.b64encode(photo).decode(),
                },
            },
        ) as sent:
            assert sent.status == 200, await sent.text()
            media_id = (await sent.json())["media_id"]
        (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the reply to the photo")
        assert "¿Este en Chapinero?" in reply["text"]
        async with session.get(
            f"{stack.gateway_url}/api/clients/{tenant.client_id}/media/{media_id}",
            headers={"Authorization": f"Bearer {tenant.api_key}"},
        ) as download:
            assert download.status == 200 and download.content_type == "image/jpeg"
            assert await download.read() == photo


async def test_an_ai_worker_killed_in_the_middle_of_a_reply_loses_nothing_and_sends_once(
    stack: Stack, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110006"
    llm = stack.env["WAMUX_OPENAI_BASE_URL"].removesuffix("/v1")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{llm}/_stub/faults", json={"delay_s": 30}) as slow:
            assert slow.status == 201

        async def llm_called() -> bool:
            async with session.get(f"{llm}/_stub/requests") as answer:
                return any(customer_text in json.dumps(r, ensure_ascii=False) for r in await answer.json())

        customer_text = "¿Me llaman, por favor?"
        raw = body(notification(tenant.phone_number_id, messages=[text_message(customer_text, sender=customer)]))
        assert await post_webhook(stack, raw, signed(raw)) == 200
        await eventually(llm_called, "the ai-worker asking the model")  # it is now waiting on the slow model
        stack.kill("ai-worker")
        await stack.processes["ai-worker"].wait()
        await stack.start_one("ai-worker")  # the unacked message comes back to the new process
        await stack.wait_ready(["ai-worker"], 30)
        (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the reply after the crash")
        assert customer_text in reply["text"]
        await eventually(lambda: _when(usage(database_url, tenant), lambda r: r["messages_out"] == 1), "counted")
        assert len(await outbox(stack, tenant, customer)) == 1


async def test_a_burst_of_messages_gets_one_coherent_reply(stack: Stack, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001110007"
    now = int(time.time())
    burst = [
        text_message(text, sender=customer, timestamp=now) for text in ("Hola", "busco apartamento", "en Chapinero")
    ]
    raw = body(notification(tenant.phone_number_id, messages=burst))
    assert await post_webhook(stack, raw, signed(raw)) == 200
    (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the reply to the burst")
    assert "en Chapinero" in reply["text"]
    assert reply["request"]["context"] == {"message_id": burst[-1]["id"]}
    counted = await eventually(
        lambda: _when(usage(database_url, tenant), lambda r: r["messages_in"] == 3 and r["messages_out"] == 1),
        "the burst counted",
    )
    assert counted["conversations_this_month"] == 1
    assert len(await outbox(stack, tenant, customer)) == 1

"""A number that changes owner keeps its past with the owner it had: usage, conversations, customers' names and
media of client A never reach client B, to whom the number moved; A keeps its month; B starts from its own quota.

Driven as the platform runs: the router's handler on Meta's webhooks, billing's handlers on the envelopes the
router publishes, the real gateway app for the client API, and the operator's ``python -m directory.admin``.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from billing.handlers import Deps as BillingDeps
from billing.handlers import count_inbound, count_outbound, record_status
from directory import admin
from directory.numbers import NumberConflict, upsert_number
from gateway.app import create_app
from router.deps import Deps as RouterDeps
from router.handlers import record_outbound, route_webhook
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageReceived, MessageSent, MessageStatusChanged
from shared.graph.client import graph_client
from shared.messaging.runtime import Infrastructure
from shared.settings import Settings
from tests.support.broker import Tap
from tests.support.payloads import new_wamid, notification, status, text_message
from tests.support.router import raw_webhook
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant

pytestmark = pytest.mark.integration
CUSTOMER = "573001112233"
PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@dataclass
class Platform:
    """The router and billing handlers on the real database and broker, and the gateway's client API."""

    infra: Infrastructure
    tap: Tap
    api: TestClient

    @property
    def router(self) -> RouterDeps:
        return RouterDeps(self.infra.pool, self.infra.publisher)

    @property
    def billing(self) -> BillingDeps:
        return BillingDeps(self.infra.pool, self.infra.publisher)

    async def customer_writes(self, phone_number_id: str, message: dict[str, Any], name: str) -> dict[str, Any]:
        """Meta's webhook through the router; billing counts the ``message.received`` the router published."""
        await route_webhook(raw_webhook(notification(phone_number_id, messages=[message], name=name)), self.router)
        (received,) = await self.tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == message["id"])
        await count_inbound(Envelope[MessageReceived].model_validate(received), self.billing)
        return received

    async def business_replies(self, received: dict[str, Any], text: str) -> str:
        """The reply the sender sent for the tenant of ``received``: the router keeps it, billing counts it."""
        wamid = new_wamid()
        sent = wrap(
            MessageSent(
                client_id=received["data"]["client_id"],
                send_id=uuid.uuid4(),
                phone_number_id=received["data"]["phone_number_id"],
                to=received["data"]["wa_id"],
                wamid=wamid,
                text=text,
                reply_to_wamid=received["data"]["wamid"],
                sent_at=datetime.now(UTC),
            ),
            correlation_id=received["correlation_id"],
            tenant_id=received["tenant_id"],
        )
        await record_outbound(sent, self.router)
        await count_outbound(sent, self.billing)
        return wamid

    async def meta_delivers(self, phone_number_id: str, wamid: str) -> None:
        await route_webhook(
            raw_webhook(notification(phone_number_id, statuses=[status(wamid, "delivered")])), self.router
        )
        (changed,) = await self.tap.wait_for("message.status", where=lambda e: e["data"]["wamid"] == wamid)
        await record_status(Envelope[MessageStatusChanged].model_validate(changed), self.billing)

    async def get(self, tenant: Tenant, path: str) -> Any:
        response = await self.api.get(
            f"/api/clients/{tenant.client_id}{path}", headers={"Authorization": f"Bearer {tenant.api_key}"}
        )
        assert response.status == 200, await response.text()
        return await response.json()

    async def status_of(self, tenant: Tenant, path: str) -> int:
        response = await self.api.get(
            f"/api/clients/{tenant.client_id}{path}", headers={"Authorization": f"Bearer {tenant.api_key}"}
        )
        return response.status

    async def number_stats(self, tenant: Tenant, phone_number_id: str) -> dict[str, Any]:
        (number,) = [
            n for n in (await self.get(tenant, "/stats"))["numbers"] if n["phone_number_id"] == phone_number_id
        ]
        return number  # type: ignore[no-any-return]


@pytest.fixture
async def platform(infra: Infrastructure, tap: Tap, sandbox: Sandbox) -> AsyncIterator[Platform]:
    settings = infra.settings.model_copy(update={"graph_base_url": sandbox.graph_url})
    async with TestClient(TestServer(create_app(settings))) as api:
        yield Platform(infra, tap, api)


async def run_admin(settings: Settings, *args: str) -> tuple[int, str, str]:
    """``python -m directory.admin …`` as an operator runs it, on the test's database and broker."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "directory.admin",
        *args,
        env={
            "WAMUX_DATABASE_URL": settings.database_url.get_secret_value(),
            "WAMUX_AMQP_URL": settings.amqp_url.get_secret_value(),
            "WAMUX_BROKER_PREFIX": settings.broker_prefix,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def uploaded_photo(infra: Infrastructure, sandbox: Sandbox, phone_number_id: str) -> str:
    settings = infra.settings.model_copy(
        update={"graph_base_url": sandbox.graph_url, "graph_token": SecretStr("test-graph-token")}
    )
    async with graph_client(settings) as graph:
        return await graph.upload_media(phone_number_id, PHOTO, "image/png", "casa.png")


def photo_message(media_id: str) -> dict[str, Any]:
    message = text_message("", sender=CUSTOMER)
    del message["text"]
    return {**message, "type": "image", "image": {"id": media_id, "mime_type": "image/png", "caption": "¿Esta casa?"}}


NOTHING_THIS_MONTH = {
    "conversations_this_month": 0,
    "paid_conversations": 0,
    "conversations_total": 0,
    "messages_in": 0,
    "messages_out": 0,
    "messages_this_month": 0,
    "messages_delivered": 0,
}


async def test_a_moved_number_brings_nothing_of_its_old_owner_to_the_new_one(
    platform: Platform, sandbox: Sandbox, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    a: Tenant = await make_tenant(free_quota=5)
    b: Tenant = await make_tenant(free_quota=3)
    number = a.phone_number_id
    media_id = await uploaded_photo(platform.infra, sandbox, number)
    await platform.customer_writes(number, text_message("Hola, ¿tienen casas en Usaquén?", sender=CUSTOMER), "Ana de A")
    received = await platform.customer_writes(number, photo_message(media_id), "Ana de A")
    reply = await platform.business_replies(received, "Sí, la de la foto está disponible")
    await platform.meta_delivers(number, reply)
    a_before = await platform.number_stats(a, number)
    assert (a_before["conversations_this_month"], a_before["messages_in"], a_before["messages_delivered"]) == (1, 2, 1)

    code, out, err = await run_admin(
        platform.infra.settings,
        "move-number",
        "--phone-number-id",
        number,
        "--to-client-id",
        str(b.client_id),
        "--free-quota",
        "3",
        "--display-name",
        "Constructora B",
    )
    assert code == 0, err
    assert '"moved": true' in out

    # B: the number, and nothing of A's month, conversations, customers or media.
    b_moved = await platform.number_stats(b, number)
    assert b_moved == {
        **b_moved,
        **NOTHING_THIS_MONTH,
        "free_quota": 3,
        "free_remaining": 3,
        "display_name": "Constructora B",
    }
    assert (await platform.get(b, "/stats"))["former_numbers"] == []
    assert (await platform.get(b, "/conversations"))["conversations"] == []
    assert await platform.status_of(b, f"/conversations/{number}/{CUSTOMER}/messages") == 404  # not its conversation
    assert await platform.status_of(b, f"/media/{media_id}") == 404

    # A: its history and its month, though the number is no longer its own.
    a_stats = await platform.get(a, "/stats")
    assert [n["phone_number_id"] for n in a_stats["numbers"]] == []
    (former,) = a_stats["former_numbers"]
    assert former["phone_number_id"] == number and former["moved_at"]
    assert (former["conversations_this_month"], former["messages_in"], former["messages_out"]) == (1, 2, 1)
    (conversation,) = (await platform.get(a, "/conversations"))["conversations"]
    assert (conversation["wa_id"], conversation["profile_name"], conversation["messages"]) == (CUSTOMER, "Ana de A", 3)
    thread = (await platform.get(a, f"/conversations/{number}/{CUSTOMER}/messages"))["messages"]
    assert [m["direction"] for m in thread] == ["inbound", "inbound", "outbound"]
    assert await platform.status_of(a, f"/media/{media_id}") == 200

    # The move was announced once, for the new owner.
    (moved,) = await platform.tap.wait_for("number.moved")
    assert moved["tenant_id"] == str(b.client_id)
    assert {k: moved["data"][k] for k in ("phone_number_id", "phone_number", "from_client_id", "to_client_id")} == {
        "phone_number_id": number,
        "phone_number": a.phone_number,
        "from_client_id": str(a.client_id),
        "to_client_id": str(b.client_id),
    }

    # After the move the same customer writes again: it is B's message, B's conversation, B's count. A's window
    # with the customer is still open, but it is A's: B's reply opens B's own.
    again = await platform.customer_writes(number, text_message("¿Siguen vendiendo?", sender=CUSTOMER), "Ana")
    assert again["tenant_id"] == str(b.client_id)
    await platform.business_replies(again, "Ahora somos Constructora B")
    (opened,) = await platform.tap.wait_for("conversation.opened", where=lambda e: e["tenant_id"] == str(b.client_id))
    assert (opened["data"]["free"], opened["data"]["free_remaining"]) == (True, 2)
    b_now = await platform.number_stats(b, number)
    assert (b_now["conversations_this_month"], b_now["free_remaining"], b_now["messages_this_month"]) == (1, 2, 2)
    (b_conversation,) = (await platform.get(b, "/conversations"))["conversations"]
    # B's own contact (the name the customer wrote to B with), or none yet: never A's contact's name.
    assert b_conversation["messages"] == 2 and b_conversation["profile_name"] in (None, "Ana")
    b_thread = (await platform.get(b, f"/conversations/{number}/{CUSTOMER}/messages"))["messages"]
    assert [m["body"] for m in b_thread] == ["¿Siguen vendiendo?", "Ahora somos Constructora B"]
    (former_after,) = (await platform.get(a, "/stats"))["former_numbers"]
    assert (former_after["conversations_this_month"], former_after["messages_this_month"]) == (1, 3)

    await platform.tap.drained()
    assert len(platform.tap.of_type("number.moved")) == 1


async def test_adding_a_number_another_client_holds_is_refused_with_what_to_do(
    infra: Infrastructure, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    a: Tenant = await make_tenant()
    b: Tenant = await make_tenant()
    code, _, err = await run_admin(
        infra.settings,
        "add-number",
        "--client-id",
        str(b.client_id),
        "--phone-number",
        a.phone_number,
        "--phone-number-id",
        a.phone_number_id,
        "--waba-id",
        a.waba_id,
    )
    assert code == 2
    assert f"phone_number_id {a.phone_number_id} belongs to client {a.client_id}: use move-number" in err
    owner = await infra.pool.fetchval(
        "SELECT client_id FROM directory.numbers WHERE phone_number_id = $1", a.phone_number_id
    )
    assert owner == a.client_id

    async with infra.pool.acquire() as conn:
        # The same phone number under another phone_number_id is the same number: refused too.
        with pytest.raises(NumberConflict, match=f"belongs to client {a.client_id}: use move-number"):
            await upsert_number(
                conn, client_id=b.client_id, phone_number=a.phone_number, phone_number_id="999", waba_id="1"
            )
        # Re-adding a number to the client that holds it is still idempotent.
        first = await conn.fetchval("SELECT id FROM directory.numbers WHERE phone_number_id = $1", a.phone_number_id)
        again = await upsert_number(
            conn,
            client_id=a.client_id,
            phone_number=a.phone_number,
            phone_number_id=a.phone_number_id,
            waba_id=a.waba_id,
            display_name="Renombrado",
        )
        assert again == first


async def test_the_new_owner_s_free_conversations_start_from_its_own_quota(
    infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    a: Tenant = await make_tenant(free_quota=2)
    b: Tenant = await make_tenant()
    billing = BillingDeps(infra.pool, infra.publisher)

    def sent(tenant: Tenant, to: str) -> Envelope[MessageSent]:
        message = MessageSent(
            client_id=tenant.client_id,
            send_id=uuid.uuid4(),
            phone_number_id=a.phone_number_id,
            to=to,
            wamid=new_wamid(),
            text="hola",
            sent_at=datetime.now(UTC),
        )
        return wrap(message, correlation_id="c", tenant_id=tenant.client_id)

    for customer in ("573000000021", "573000000022"):
        await count_outbound(sent(a, customer), billing)
    await admin.move(infra.pool, infra.publisher, phone_number_id=a.phone_number_id, to_client_id=b.client_id)

    row = await infra.pool.fetchrow(
        "SELECT client_id, free_quota, free_used, free_remaining, paid_conversations FROM dashboard.number_usage"
        " WHERE phone_number_id = $1",
        a.phone_number_id,
    )
    assert tuple(row) == (b.client_id, 2, 0, 2, 0)
    for customer in ("573000000021", "573000000023", "573000000024"):  # the first was A's customer too
        await count_outbound(sent(b, customer), billing)
    row = await infra.pool.fetchrow(
        "SELECT free_used, free_remaining, paid_conversations, conversations_this_month FROM dashboard.number_usage"
        " WHERE phone_number_id = $1",
        a.phone_number_id,
    )
    assert tuple(row) == (2, 0, 1, 3)
    exhausted = await tap.wait_for("quota.exhausted", count=2)
    assert sorted(e["tenant_id"] for e in exhausted) == sorted([str(a.client_id), str(b.client_id)])
    assert len({e["id"] for e in exhausted}) == 2


async def test_a_retried_move_announces_the_same_event_and_a_later_move_a_new_one(
    infra: Infrastructure, tap: Tap, make_tenant
) -> None:  # type: ignore[no-untyped-def]
    a: Tenant = await make_tenant()
    b: Tenant = await make_tenant()
    number = a.phone_number_id
    first = await admin.move(infra.pool, infra.publisher, phone_number_id=number, to_client_id=b.client_id)
    retried = await admin.move(infra.pool, infra.publisher, phone_number_id=number, to_client_id=b.client_id)
    assert first is not None and retried == first
    back = await admin.move(infra.pool, infra.publisher, phone_number_id=number, to_client_id=a.client_id)
    assert back is not None and back.id != first.id
    events = await tap.wait_for("number.moved", count=3)
    assert events[0]["id"] == events[1]["id"] != events[2]["id"]
    assert [e["data"]["to_client_id"] for e in events] == [str(b.client_id), str(b.client_id), str(a.client_id)]
    moves = await infra.pool.fetchval("SELECT count(*) FROM directory.number_moves WHERE phone_number_id = $1", number)
    assert moves == 2
    # A client that holds a number it was never given by a move: nothing to move, nothing announced.
    assert (
        await admin.move(infra.pool, infra.publisher, phone_number_id=b.phone_number_id, to_client_id=b.client_id)
        is None
    )

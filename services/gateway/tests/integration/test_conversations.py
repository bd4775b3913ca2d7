"""The client's conversations and messages through the gateway, own data only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from shared.messaging.runtime import Infrastructure
from tests.support.payloads import text_message
from tests.support.router import business_wrote, customer_wrote
from tests.support.tenants import Tenant, create_tenant


@pytest.fixture
async def client(infra: Infrastructure) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(infra.settings))) as test_client:
        yield test_client


async def say(infra: Infrastructure, tenant: Tenant, wa_id: str, direction: str, body: str, at: datetime) -> None:
    """The router's record of one message of the conversation, written by the router's own handlers."""
    if direction == "inbound":
        await customer_wrote(infra, tenant, text_message(body, sender=wa_id, timestamp=int(at.timestamp())))
    else:
        await business_wrote(infra, tenant, wa_id, body, at)


async def test_conversations_newest_first_and_a_thread_in_order(
    client: TestClient, infra: Infrastructure, tenant: Tenant
) -> None:
    t0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    await say(infra, tenant, "573001110001", "inbound", "Hola", t0)
    await say(infra, tenant, "573001110001", "outbound", "¡Hola! ¿En qué le ayudo?", t0 + timedelta(seconds=2))
    await say(infra, tenant, "573001110002", "inbound", "¿Abren el sábado?", t0 + timedelta(minutes=5))
    auth = {"Authorization": f"Bearer {tenant.api_key}"}

    listed = await (await client.get(f"/api/clients/{tenant.client_id}/conversations", headers=auth)).json()
    assert [(c["wa_id"], c["messages"], c["last_body"]) for c in listed["conversations"]] == [
        ("573001110002", 1, "¿Abren el sábado?"),
        ("573001110001", 2, "¡Hola! ¿En qué le ayudo?"),
    ]

    thread = await client.get(
        f"/api/clients/{tenant.client_id}/conversations/{tenant.phone_number_id}/573001110001/messages", headers=auth
    )
    assert [(m["direction"], m["body"]) for m in (await thread.json())["messages"]] == [
        ("inbound", "Hola"),
        ("outbound", "¡Hola! ¿En qué le ayudo?"),
    ]


async def test_another_client_sees_none_of_it(
    client: TestClient, infra: Infrastructure, tenant: Tenant, database_url: str
) -> None:
    await say(infra, tenant, "573001110003", "inbound", "privado", datetime.now(UTC))
    other = await create_tenant(database_url)
    auth = {"Authorization": f"Bearer {other.api_key}"}
    own = await (await client.get(f"/api/clients/{other.client_id}/conversations", headers=auth)).json()
    assert own == {"conversations": []}
    crossed = await client.get(
        f"/api/clients/{tenant.client_id}/conversations/{tenant.phone_number_id}/573001110003/messages", headers=auth
    )
    assert crossed.status == 404
    sneaky = await client.get(
        f"/api/clients/{other.client_id}/conversations/{tenant.phone_number_id}/573001110003/messages", headers=auth
    )
    assert (await sneaky.json()) == {"messages": []}


async def test_the_dashboard_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    page = await client.get("/dashboard")
    assert page.status == 200 and page.content_type == "text/html"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert '<script src="/dashboard/dashboard.js"' in await page.text()
    script = await client.get("/dashboard/dashboard.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert (await client.get("/dashboard/../app.py")).status == 404

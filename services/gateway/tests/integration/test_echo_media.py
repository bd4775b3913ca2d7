"""A photo the business sent from the WhatsApp Business app (a coexistence echo) downloads through the gateway's
media proxy as a customer's photo does: the router keeps the echo's media id, the proxy fetches it from Meta."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.app import create_app
from router.deps import Deps
from router.handlers import route_webhook
from shared.graph.client import graph_client
from shared.messaging.runtime import Infrastructure
from tests.support.payloads import new_wamid
from tests.support.router import raw_webhook
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant, create_tenant

PLAN = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 30


@pytest.fixture
async def client(infra: Infrastructure, sandbox: Sandbox) -> AsyncIterator[TestClient]:
    settings = infra.settings.model_copy(update={"graph_base_url": sandbox.graph_url})
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def photo_sent_from_the_app(infra: Infrastructure, sandbox: Sandbox, tenant: Tenant) -> str:
    """The photo held by (emulated) Meta, and the echo announcing it routed by the router; its media id."""
    settings = infra.settings.model_copy(
        update={"graph_base_url": sandbox.graph_url, "graph_token": SecretStr("test-graph-token")}
    )
    async with graph_client(settings) as graph:
        media_id = await graph.upload_media(tenant.phone_number_id, PLAN, "image/jpeg", "plano.jpg")
    business = tenant.phone_number.lstrip("+")
    echo = {
        "from": business,
        "to": "573001112233",
        "id": new_wamid(),
        "timestamp": "1764000000",
        "type": "image",
        "image": {"id": media_id, "mime_type": "image/jpeg", "caption": "El plano"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business, "phone_number_id": tenant.phone_number_id},
        "message_echoes": [echo],
    }
    change = {"field": "smb_message_echoes", "value": value}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": tenant.waba_id, "changes": [change]}]}
    await route_webhook(raw_webhook(payload), Deps(infra.pool, infra.publisher))
    return media_id


async def test_the_client_downloads_the_photo_it_sent_from_the_business_app_and_no_other_client_can(
    client: TestClient, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant, database_url: str
) -> None:
    media_id = await photo_sent_from_the_app(infra, sandbox, tenant)
    own = await client.get(
        f"/api/clients/{tenant.client_id}/media/{media_id}", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert own.status == 200, await own.text()
    assert own.content_type == "image/jpeg" and await own.read() == PLAN
    other = await create_tenant(database_url)
    crossed = await client.get(
        f"/api/clients/{other.client_id}/media/{media_id}", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert crossed.status == 404

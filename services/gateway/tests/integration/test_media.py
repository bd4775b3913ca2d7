"""A client downloads its conversations' media through the gateway, fetched from the (emulated) Graph API: its
customers' photos, and one it sent itself from the WhatsApp Business app (a coexistence echo: the router keeps the
echo's media id as a customer's)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.app import create_app
from shared.graph.client import graph_client
from shared.messaging.runtime import Infrastructure
from tests.support.payloads import new_wamid
from tests.support.router import business_app_sent, customer_wrote, image_message
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant, create_tenant

PHOTO = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PLAN = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 30  # a JPEG's first bytes


@pytest.fixture
async def client(infra: Infrastructure, sandbox: Sandbox) -> AsyncIterator[TestClient]:
    settings = infra.settings.model_copy(update={"graph_base_url": sandbox.graph_url})
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def held_by_meta(infra: Infrastructure, sandbox: Sandbox, tenant: Tenant, data: bytes, mime: str) -> str:
    """``data`` uploaded to the emulator for the tenant's number; its media id."""
    settings = infra.settings.model_copy(
        update={"graph_base_url": sandbox.graph_url, "graph_token": SecretStr("test-graph-token")}
    )
    async with graph_client(settings) as graph:
        return await graph.upload_media(tenant.phone_number_id, data, mime, "file")


async def received_photo(infra: Infrastructure, sandbox: Sandbox, tenant: Tenant) -> str:
    """Upload a photo to the emulator and record it as a customer's message, as the router would."""
    media_id = await held_by_meta(infra, sandbox, tenant, PHOTO, "image/png")
    await customer_wrote(infra, tenant, image_message(media_id, sender="573001112233", mime_type="image/png"))
    return media_id


async def test_client_downloads_its_customer_s_photo(
    client: TestClient, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant
) -> None:
    media_id = await received_photo(infra, sandbox, tenant)
    response = await client.get(
        f"/api/clients/{tenant.client_id}/media/{media_id}", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert response.status == 200
    assert response.content_type == "image/png"
    assert await response.read() == PHOTO


async def test_another_client_cannot_fetch_it(
    client: TestClient, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant, database_url: str
) -> None:
    media_id = await received_photo(infra, sandbox, tenant)
    other = await create_tenant(database_url)
    response = await client.get(
        f"/api/clients/{other.client_id}/media/{media_id}", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert response.status == 404


async def test_media_meta_no_longer_has_is_404(
    client: TestClient, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant
) -> None:
    await customer_wrote(infra, tenant, image_message("1111111111111111", sender="57300"))
    response = await client.get(
        f"/api/clients/{tenant.client_id}/media/1111111111111111", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert response.status == 404
    assert "media unavailable from Meta" in await response.text()


async def test_the_client_downloads_the_photo_it_sent_from_the_business_app_and_no_other_client_can(
    client: TestClient, infra: Infrastructure, sandbox: Sandbox, tenant: Tenant, database_url: str
) -> None:
    media_id = await held_by_meta(infra, sandbox, tenant, PLAN, "image/jpeg")
    image = {"id": media_id, "mime_type": "image/jpeg", "caption": "El plano"}
    echo = {"to": "573001112233", "id": new_wamid(), "timestamp": "1764000000", "type": "image", "image": image}
    await business_app_sent(infra, tenant, echo)
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

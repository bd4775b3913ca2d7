"""Tenants for tests: a client with a random number, created through the gateway's own directory code."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest

from gateway.directory import move_number, upsert_client, upsert_number


@dataclass(frozen=True)
class Tenant:
    client_id: uuid.UUID
    api_key: str
    phone_number: str
    phone_number_id: str
    waba_id: str
    personality: str


async def create_tenant(
    database_url: str, *, free_quota: int = 1000, timezone: str = "America/Bogota", quota_policy: str = "count_paid"
) -> Tenant:
    personality = f"Inmobiliaria de prueba {uuid.uuid4().hex[:6]}, profesional pero amable"
    # Bogotá landlines +57 601 xxx xxxx are valid and plenty for random test numbers.
    phone_number = f"+57601{random.randint(2000000, 9999999)}"
    phone_number_id = str(random.randint(10**14, 10**15 - 1))
    conn = await asyncpg.connect(database_url)
    try:
        client = await upsert_client(
            conn, name="Inmobiliaria Test", personality=personality, timezone=timezone, quota_policy=quota_policy
        )
        await upsert_number(
            conn,
            client_id=client.id,
            phone_number=phone_number,
            phone_number_id=phone_number_id,
            waba_id="200000000000009",
            display_name="Test",
            free_quota=free_quota,
        )
    finally:
        await conn.close()
    return Tenant(client.id, client.api_key, phone_number, phone_number_id, "200000000000009", personality)


@pytest.fixture
def make_tenant(database_url: str) -> Callable[..., Awaitable[Tenant]]:
    async def make(**kwargs: object) -> Tenant:
        return await create_tenant(database_url, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def tenant(make_tenant: Callable[..., Awaitable[Tenant]]) -> Tenant:
    return await make_tenant()


async def move_tenant_number(
    pool: asyncpg.Pool, tenant: Tenant, to: Tenant, *, free_quota: int | None = None
) -> Tenant:
    """Move ``tenant``'s number to ``to``'s client through the directory's own code; the number as ``to``'s."""
    async with pool.acquire() as conn:
        await move_number(
            conn, phone_number_id=tenant.phone_number_id, to_client_id=to.client_id, free_quota=free_quota
        )
    return Tenant(to.client_id, to.api_key, tenant.phone_number, tenant.phone_number_id, tenant.waba_id, "")

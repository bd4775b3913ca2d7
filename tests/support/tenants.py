"""Tenants for tests: clients and their numbers, created and moved only through the directory's own code.

Every test seeds tenants here, never by importing a service's internals or writing the directory's tables.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest
from pydantic import SecretStr

from directory import credentials
from directory.clients import upsert_client
from directory.moves import move_number
from directory.numbers import upsert_number
from shared.secretbox import KeyRing

TEST_WABA = "200000000000009"


@dataclass(frozen=True)
class Tenant:
    client_id: uuid.UUID
    api_key: str
    phone_number: str
    phone_number_id: str
    waba_id: str
    personality: str


def random_phone_number() -> str:
    # Bogotá landlines +57 601 xxx xxxx are valid and plenty for random test numbers.
    return f"+57601{random.randint(2000000, 9999999)}"


def random_phone_number_id() -> str:
    return str(random.randint(10**14, 10**15 - 1))


async def create_tenant(
    database_url: str,
    *,
    free_quota: int = 1000,
    timezone: str = "America/Bogota",
    quota_policy: str = "count_paid",
    name: str = "Inmobiliaria Test",
    personality: str | None = None,
    phone_number: str | None = None,
    phone_number_id: str | None = None,
    waba_id: str = TEST_WABA,
    display_name: str = "Test",
    status: str = "active",
) -> Tenant:
    """A client and one number (random unless given), active unless ``status`` says otherwise."""
    personality = personality or f"Inmobiliaria de prueba {uuid.uuid4().hex[:6]}, profesional pero amable"
    phone_number = phone_number or random_phone_number()
    phone_number_id = phone_number_id or random_phone_number_id()
    conn = await asyncpg.connect(database_url)
    try:
        client = await upsert_client(
            conn, name=name, personality=personality, timezone=timezone, quota_policy=quota_policy
        )
        await upsert_number(
            conn,
            client_id=client.id,
            phone_number=phone_number,
            phone_number_id=phone_number_id,
            waba_id=waba_id,
            display_name=display_name,
            status=status,
            free_quota=free_quota,
        )
    finally:
        await conn.close()
    return Tenant(client.id, client.api_key, phone_number, phone_number_id, waba_id, personality)


async def add_number(
    database_url: str, tenant: Tenant, *, phone_number: str, phone_number_id: str, waba_id: str | None = None
) -> Tenant:
    """Another number for ``tenant``'s client, through the directory's code; the tenant as seen on that number."""
    conn = await asyncpg.connect(database_url)
    try:
        await upsert_number(
            conn,
            client_id=tenant.client_id,
            phone_number=phone_number,
            phone_number_id=phone_number_id,
            waba_id=waba_id or tenant.waba_id,
        )
    finally:
        await conn.close()
    return Tenant(
        tenant.client_id, tenant.api_key, phone_number, phone_number_id, waba_id or tenant.waba_id, tenant.personality
    )


async def set_number_status(database_url: str, tenant: Tenant, status: str) -> None:
    """The tenant's number becomes ``status`` (pending, active, suspended) through the directory's code; the rest
    of the number stays as it is."""
    conn = await asyncpg.connect(database_url)
    try:
        number = await conn.fetchrow(
            "SELECT display_name, free_quota FROM directory_read.numbers WHERE phone_number_id = $1",
            tenant.phone_number_id,
        )
        await upsert_number(
            conn,
            client_id=tenant.client_id,
            phone_number=tenant.phone_number,
            phone_number_id=tenant.phone_number_id,
            waba_id=tenant.waba_id,
            display_name=number["display_name"],
            status=status,
            free_quota=number["free_quota"],
        )
    finally:
        await conn.close()


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


async def give_business_token(pool: asyncpg.Pool, ring: KeyRing, waba_id: str, token: str | SecretStr) -> None:
    """The client of ``waba_id`` holds ``token`` as its business token (encrypted under ``ring``'s current key),
    through the directory's own code; every number of that WABA then sends with it."""
    secret = token if isinstance(token, SecretStr) else SecretStr(token)
    async with pool.acquire() as conn:
        await credentials.store(conn, ring, "business_token", waba_id, secret)

"""The client API's keys over real HTTP: how a key may be written, and how many wrong ones an address may try."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from ipaddress import ip_network
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from shared.messaging.runtime import Infrastructure
from tests.support.tenants import Tenant, create_tenant

Serve = Callable[..., AbstractAsyncContextManager[TestClient]]


@pytest.fixture
def serve(infra: Infrastructure) -> Serve:
    @asynccontextmanager
    async def serving(**overrides: Any) -> AsyncIterator[TestClient]:
        async with TestClient(TestServer(create_app(infra.settings.model_copy(update=overrides)))) as client:
            yield client

    return serving


@pytest.fixture
async def tenant(database_url: str) -> Tenant:
    return await create_tenant(database_url)


def stats(tenant: Tenant) -> str:
    return f"/api/clients/{tenant.client_id}/stats"


@pytest.mark.parametrize("written", ["bearer {key}", "BEARER {key}", "  Bearer   {key}  ", "bEaReR\t{key}"])
async def test_the_bearer_scheme_is_read_in_any_case_and_around_any_whitespace(
    serve: Serve, tenant: Tenant, written: str
) -> None:
    async with serve() as client:
        answer = await client.get(stats(tenant), headers={"Authorization": written.format(key=tenant.api_key)})
        assert answer.status == 200


async def test_other_schemes_and_a_bare_key_are_still_refused(serve: Serve, tenant: Tenant) -> None:
    async with serve() as client:
        for written in (f"Basic {tenant.api_key}", tenant.api_key, "Bearer", f"Bearer{tenant.api_key}"):
            assert (await client.get(stats(tenant), headers={"Authorization": written})).status == 401


async def test_an_address_that_keeps_guessing_keys_gets_429_with_retry_after(serve: Serve, tenant: Tenant) -> None:
    async with serve(api_key_failures_per_minute=3) as client:
        wrong = {"Authorization": "Bearer wmx_guess"}
        for _ in range(3):
            assert (await client.get(stats(tenant), headers=wrong)).status == 401
        limited = await client.get(stats(tenant), headers=wrong)
        assert limited.status == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60


async def test_successful_keys_are_never_counted(serve: Serve, tenant: Tenant) -> None:
    async with serve(api_key_failures_per_minute=2) as client:
        right = {"Authorization": f"Bearer {tenant.api_key}"}
        for _ in range(10):
            assert (await client.get(stats(tenant), headers=right)).status == 200
        assert (await client.get(stats(tenant), headers={"Authorization": "Bearer wmx_typo"})).status == 401
        assert (await client.get(stats(tenant), headers=right)).status == 200


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(serve: Serve, tenant: Tenant) -> None:
    async with serve(api_key_failures_per_minute=2, trusted_proxies=(ip_network("127.0.0.0/8"),)) as client:

        def guess(client_address: str) -> dict[str, str]:
            # A client may send its own X-Forwarded-For; the proxy appends the address it saw.
            return {"Authorization": "Bearer wmx_guess", "X-Forwarded-For": f"198.51.100.1, {client_address}"}

        for _ in range(2):
            assert (await client.get(stats(tenant), headers=guess("203.0.113.7"))).status == 401
        assert (await client.get(stats(tenant), headers=guess("203.0.113.7"))).status == 429
        assert (await client.get(stats(tenant), headers=guess("203.0.113.8"))).status == 401


async def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_limit(
    serve: Serve, tenant: Tenant
) -> None:
    async with serve(api_key_failures_per_minute=2) as client:
        for n in range(2):
            forged = {"Authorization": "Bearer wmx_guess", "X-Forwarded-For": f"203.0.113.{n}"}
            assert (await client.get(stats(tenant), headers=forged)).status == 401
        forged = {"Authorization": "Bearer wmx_guess", "X-Forwarded-For": "203.0.113.99"}
        assert (await client.get(stats(tenant), headers=forged)).status == 429

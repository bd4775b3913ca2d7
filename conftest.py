"""Fixtures shared by every test tier: the real PostgreSQL and RabbitMQ, isolated by random names.

Servers come from ``WAMUX_TEST_DATABASE_URL`` / ``WAMUX_TEST_AMQP_URL`` (default: the local servers). Where
none answers and Docker is available, testcontainers starts them. Each test session gets its own database;
each test its own broker prefix (exchanges and queues) and its own tenants.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.databases import migrated_database
from tests.support.settings import PlatformSettings

pytest_plugins = ["tests.support.broker", "tests.support.tenants", "tests.support.sandbox", "tests.support.browser"]

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("WAMUX_TEST_DATABASE_URL", DEFAULT_DB)
    if _reachable(url, 5432):
        yield url
        return
    from testcontainers.postgres import PostgresContainer  # only where Docker stands in for a server

    with PostgresContainer("postgres:16", driver=None) as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("WAMUX_TEST_AMQP_URL", DEFAULT_AMQP)
    if _reachable(url, 5672):
        yield url
        return
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13") as container:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"


@pytest.fixture(scope="session")
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh database with every migration applied, for this test session only."""
    async with migrated_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def settings(database_url: str, amqp_url: str) -> PlatformSettings:
    return PlatformSettings(
        service="test",
        database_url=database_url,
        amqp_url=amqp_url,
        broker_prefix=f"t{uuid.uuid4().hex[:10]}",
        app_secret="test-app-secret",
        verify_token="test-verify-token",
        graph_token="test-graph-token",
        publish_timeout_s=5,
    )

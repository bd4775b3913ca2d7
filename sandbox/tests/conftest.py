"""Fixtures: the sandbox apps and a stand-in gateway, each on a free loopback port, driven over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sandbox.config import SandboxSettings
from sandbox.llm import stub as llm_stub
from sandbox.meta import emulator as graph_emulator
from sandbox.testing import WebhookReceiver, serve_app

APP_SECRET = "test-app-secret"
GRAPH_TOKEN = "test-graph-token"

StartApp = Callable[[web.Application], Awaitable[str]]
StartEmulator = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_app() -> AsyncIterator[StartApp]:
    started: list[TestServer] = []

    async def start(app: web.Application) -> str:
        url, server = await serve_app(app)
        started.append(server)
        return url

    yield start
    for server in reversed(started):
        await server.close()


@pytest.fixture
async def gateway(start_app: StartApp) -> WebhookReceiver:
    receiver = WebhookReceiver()
    receiver.url = await start_app(receiver.app()) + "/webhook/whatsapp"
    return receiver


@pytest.fixture
def make_settings(gateway: WebhookReceiver) -> Callable[..., SandboxSettings]:
    def make(**overrides: Any) -> SandboxSettings:
        values: dict[str, Any] = {
            "app_secret": APP_SECRET,
            "graph_token": GRAPH_TOKEN,
            "sandbox_webhook_url": gateway.url,
            "sandbox_status_delay_s": 0.01,
            "sandbox_webhook_backoff_s": 0.01,
            **overrides,
        }
        return SandboxSettings(**values)

    return make


@pytest.fixture
def start_emulator(start_app: StartApp, make_settings: Callable[..., SandboxSettings]) -> StartEmulator:
    async def start(**overrides: Any) -> str:
        return await start_app(graph_emulator.create_app(make_settings(**overrides)))

    return start


@pytest.fixture
async def emulator(start_emulator: StartEmulator) -> str:
    return await start_emulator()


@pytest.fixture
async def stub(start_app: StartApp, make_settings: Callable[..., SandboxSettings]) -> str:
    return await start_app(llm_stub.create_app(make_settings()))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {GRAPH_TOKEN}"}


@pytest.fixture
def app_secret() -> str:
    return APP_SECRET

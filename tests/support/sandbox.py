"""The sandbox's Meta emulator and OpenAI stub, in-process on free ports, for integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from sandbox.config import SandboxSettings
from sandbox.llm import stub as llm_stub
from sandbox.meta import emulator as graph_emulator
from sandbox.testing import serve_app


@dataclass(frozen=True)
class Sandbox:
    graph_url: str
    llm_url: str

    async def outbox(self, **query: str) -> list[dict]:  # type: ignore[type-arg]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.graph_url}/_sandbox/outbox", params=query) as response,
        ):
            return await response.json()  # type: ignore[no-any-return]

    async def reads(self, **query: str) -> list[dict]:  # type: ignore[type-arg]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.graph_url}/_sandbox/reads", params=query) as response,
        ):
            return await response.json()  # type: ignore[no-any-return]

    async def inject_fault(self, **fault: object) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.graph_url}/_sandbox/faults", json=fault) as response,
        ):
            assert response.status < 300, await response.text()

    async def llm_requests(self) -> list[dict]:  # type: ignore[type-arg]
        async with aiohttp.ClientSession() as session, session.get(f"{self.llm_url}/_stub/requests") as response:
            return await response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    config = SandboxSettings(app_secret="test-app-secret", graph_token="test-graph-token", sandbox_webhook_url="")
    graph_url, graph_server = await serve_app(graph_emulator.create_app(config))
    llm_url, llm_server = await serve_app(llm_stub.create_app(config))
    yield Sandbox(graph_url, llm_url)
    await graph_server.close()
    await llm_server.close()

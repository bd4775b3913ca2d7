"""The sandbox's Meta emulator and OpenAI stub, in-process on free ports, for integration tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from yarl import URL

from sandbox.config import SandboxSettings
from sandbox.llm import stub as llm_stub
from sandbox.meta import emulator as graph_emulator
from sandbox.testing import serve_app
from shared.phones import parse_phone


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

    async def accept_signup(self, e164: str, *, coexistence: bool = False) -> dict[str, str]:
        """A client accepts on the emulator's hosted Embedded Signup page for ``e164``: Meta's answer (``code``,
        ``waba_id``, ``business_id``, and ``phone_number_id`` unless coexistence), read from its redirect without
        following it."""
        meta = SandboxSettings()
        phone = parse_phone(e164)
        business = {"name": "Inmobiliaria Andes", "phone": {"code": phone.cc, "number": phone.national_number}}
        extras: dict[str, object] = {"setup": {"business": business}}
        if coexistence:
            extras["featureType"] = "whatsapp_business_app_onboarding"
        form = {
            "app_id": meta.app_id,
            "config_id": meta.signup_config_id,
            "extras": json.dumps(extras),
            "redirect_uri": "https://wamux.example.com/onboard/callback",
            "state": "s",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.graph_url}/messaging/whatsapp/onboard/", data=form, allow_redirects=False) as r,
        ):
            assert r.status == 303, await r.text()
            query = URL(r.headers["Location"]).query
            return {name: value for name, value in query.items() if name != "state"}

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

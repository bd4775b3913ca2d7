"""Meta's answers to an Embedded Signup, as a program sees them over REST: the client accepts on the emulator's
signup page, the popup's ``POST /onboard/{token}/complete`` hands Meta's answer in, ``python -m directory`` (a
process) makes Meta's calls against the emulator, and ``GET /api/onboardings/{id}`` says how it ended — Meta's code
and, in plain words, what it means."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.app import create_app
from sandbox.config import SandboxSettings
from shared import secretbox
from shared.graph.onboarding import onboarding_graph
from shared.messaging.runtime import Infrastructure
from shared.settings import GraphSettings, Settings
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number

pytestmark = pytest.mark.integration
OPERATOR_KEY = "op-" + uuid.uuid4().hex
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
META = SandboxSettings()  # the emulator's app and Embedded Signup configuration
APP_SECRET = "test-app-secret"  # the test settings' (conftest.py), which the sandbox fixture's emulator shares
ANSWER_FIELDS = ("code", "waba_id", "phone_number_id", "business_id")
Api = TestClient[web.Request, web.Application]
StartDirectory = Callable[..., AbstractAsyncContextManager[None]]


@pytest.fixture
async def api(infra: Infrastructure[Settings], start_directory: StartDirectory, sandbox: Sandbox) -> AsyncIterator[Api]:
    """The gateway's app, and a directory reaching the emulator as Meta whose callback check (after subscribing a
    WABA) Meta makes on this gateway's own ``/webhook/whatsapp``."""
    link_secret = "links-" + uuid.uuid4().hex
    settings = infra.settings.model_copy(
        update={"operator_api_key": SecretStr(OPERATOR_KEY), "signup_link_secret": SecretStr(link_secret)}
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        meta = {
            "WAMUX_GRAPH_BASE_URL": sandbox.graph_url,
            "WAMUX_GRAPH_TOKEN": "test-graph-token",
            "WAMUX_APP_ID": META.app_id,
            "WAMUX_SIGNUP_CONFIG_ID": META.signup_config_id,
            "WAMUX_CREDENTIAL_KEYS": secretbox.new_key_setting("rest1"),
            "WAMUX_SIGNUP_LINK_SECRET": link_secret,
            "WAMUX_WEBHOOK_CALLBACK_URL": str(client.make_url("/webhook/whatsapp")),
        }
        async with start_directory(**meta):
            yield client


async def registered(api: Api, *, coexistence: bool = False) -> tuple[dict[str, Any], str]:
    """A new client's number registered for Embedded Signup: the 202's body and its link's token."""
    created = await api.post("/api/clients", json={"name": "Inmobiliaria Andes"}, headers=OPERATOR)
    assert created.status == 201, await created.text()
    client_id, api_key = (await created.json())["client_id"], (await created.json())["api_key"]
    body = {"client_id": client_id, "phone_number": random_phone_number(), "coexistence": coexistence}
    answer = await api.post("/api/register-client-number", json=body, headers=OPERATOR)
    assert answer.status == 202, await answer.text()
    accepted: dict[str, Any] = {**await answer.json(), "api_key": api_key}
    assert accepted["state"] == "pending"  # stored by the directory, its link with it
    return accepted, accepted["signup_url"].rsplit("/", 1)[1]


async def accepted_at_meta(sandbox: Sandbox, e164: str, *, coexistence: bool = False) -> dict[str, str]:
    """The client accepts on the emulator's Embedded Signup page: Meta's answer (code and ids)."""
    answer = await sandbox.accept_signup(e164, coexistence=coexistence)
    return {name: answer[name] for name in ANSWER_FIELDS if name in answer}


async def at_meta(sandbox: Sandbox, phone_number_id: str, **change: Any) -> dict[str, Any]:
    """The emulator's record of a number, after ``change`` (what Meta holds that wamux does not know)."""
    url = f"{sandbox.graph_url}/_sandbox/phone_numbers/{phone_number_id}"
    async with (
        aiohttp.ClientSession() as session,
        session.request("PATCH" if change else "GET", url, json=change or None) as r,
    ):
        assert r.status == 200, await r.text()
        return dict(await r.json())


async def complete(api: Api, token: str, answer: dict[str, str]) -> None:
    """The popup's POST of Meta's answer."""
    posted = await api.post(f"/onboard/{token}/complete", json=answer)
    assert posted.status == 200, await posted.text()


async def ended(api: Api, onboarding_id: str, timeout: float = 20) -> dict[str, Any]:
    """The onboarding once active or failed (bounded poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        body: dict[str, Any] = await (await api.get(f"/api/onboardings/{onboarding_id}", headers=OPERATOR)).json()
        if body.get("state") in ("active", "failed"):
            return body
        assert loop.time() < deadline, f"the onboarding never ended: {body}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("meta_side", "code", "words"),
    [
        ({"two_step_pin": "000000"}, 133005, "PIN"),  # a two-step PIN set elsewhere: the register is refused
        ({"register_blocked": True}, 133016, ""),  # too many registers: Meta blocks it for 72 hours
    ],
)
async def test_meta_refusing_the_register_shows_failed_at_register_with_meta_s_code_in_plain_words(
    api: Api, sandbox: Sandbox, meta_side: dict[str, Any], code: int, words: str
) -> None:
    accepted, token = await registered(api)
    answer = await accepted_at_meta(sandbox, accepted["phone_number"])
    await at_meta(sandbox, answer["phone_number_id"], **meta_side)
    await complete(api, token, answer)

    failed = await ended(api, accepted["onboarding_id"])
    assert (failed["state"], failed["step"], failed["error"]["code"]) == ("failed", "register", code), failed
    text = failed["error"]["text"]
    assert text.startswith(f"Meta error {code}: ") and words in text and "will not be retried" in text


async def test_a_code_exchanged_already_shows_failed_at_exchange_code_with_100_36009(
    api: Api, sandbox: Sandbox
) -> None:
    accepted, token = await registered(api)
    answer = await accepted_at_meta(sandbox, accepted["phone_number"])
    graph_settings = GraphSettings(graph_base_url=sandbox.graph_url, graph_token=SecretStr("test-graph-token"))
    async with onboarding_graph(graph_settings) as graph:  # someone else exchanged the single-use code first
        await graph.exchange_code(META.app_id, SecretStr(APP_SECRET), answer["code"])
    await complete(api, token, answer)

    failed = await ended(api, accepted["onboarding_id"])
    error = failed["error"]
    assert (failed["state"], failed["step"], error["code"], error["subcode"]) == ("failed", "exchange_code", 100, 36009)
    assert error["text"].startswith("Meta error 100/36009: ")


async def test_a_coexistence_signup_over_rest_connects_the_number_without_registering_it(
    api: Api, sandbox: Sandbox
) -> None:
    accepted, token = await registered(api, coexistence=True)
    answer = await accepted_at_meta(sandbox, accepted["phone_number"], coexistence=True)
    assert "phone_number_id" not in answer  # coexistence's finish names only the WABA
    await complete(api, token, answer)

    active = await ended(api, accepted["onboarding_id"])
    assert (active["state"], active["step"], active["coexistence"], active["error"]) == ("active", "done", True, None)
    number = await at_meta(sandbox, active["phone_number_id"])
    assert number["register_requests"] == 0 and number["is_on_biz_app"]
    # The dashboard's numbers show what Meta said of it when it was read back.
    mine = {"Authorization": f"Bearer {accepted['api_key']}"}
    stats = await (await api.get(f"/api/clients/{accepted['client_id']}/stats", headers=mine)).json()
    (shown,) = [n for n in stats["numbers"] if n["phone_number_id"] == active["phone_number_id"]]
    assert (shown["quality_rating"], shown["status"]) == ("GREEN", "active") and shown["verified_name"]

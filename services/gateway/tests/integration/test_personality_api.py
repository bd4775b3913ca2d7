"""A client's personality over REST, with ``python -m directory`` keeping every version and the sandbox's LLM stub
as the model: save it (who and when kept), read its versions, try it — the reply written by the ai-worker's own
prompt and model — and nothing is sent or counted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.app import create_app
from shared.messaging.runtime import Infrastructure
from tests.support.sandbox import Sandbox

OPERATOR_KEY = "op-" + uuid.uuid4().hex
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
StartDirectory = Callable[..., AbstractAsyncContextManager[None]]
FORM = {
    "description": "Inmobiliaria en Bogotá: venta y arriendo de apartamentos",
    "tone": "profesional pero cercana",
    "offer": "visitas de lunes a viernes",
    "hours": "8 a 18 h",
    "never_say": "precios que no estén publicados",
}


@pytest.fixture
async def api(infra: Infrastructure, start_directory: StartDirectory, sandbox: Sandbox) -> AsyncIterator[TestClient]:
    settings = infra.settings.model_copy(
        update={
            "operator_api_key": SecretStr(OPERATOR_KEY),
            "openai_base_url": f"{sandbox.llm_url}/v1",
            "openai_api_key": SecretStr("test"),
            "personality_tries_per_minute": 3,
        }
    )
    async with start_directory(), TestClient(TestServer(create_app(settings))) as client:
        yield client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await check()):
        assert loop.time() < deadline, "not in time"
        await asyncio.sleep(0.05)
    return value


async def new_client(api: TestClient) -> dict[str, Any]:
    answer = await api.post(
        "/api/clients", json={"name": "Inmobiliaria Andes", "personality": "Formal."}, headers=OPERATOR
    )
    assert answer.status == 201, await answer.text()
    return dict(await answer.json())


async def test_each_saved_personality_is_a_version_with_who_saved_it(api: TestClient) -> None:
    client = await new_client(api)
    base = f"/api/clients/{client['client_id']}/personality"
    mine = {"Authorization": f"Bearer {client['api_key']}"}
    first = await (await api.get(base, headers=mine)).json()
    assert (first["version"], first["personality"], [v["changed_by"] for v in first["versions"]]) == (
        1,
        "Formal.",
        ["created"],
    )

    saved = await api.put(base, json={"profile": FORM, "language": "es-CO"}, headers=mine)
    assert saved.status == 202, await saved.text()

    async def second() -> dict[str, Any] | None:
        now: dict[str, Any] = await (await api.get(base, headers=mine)).json()
        return now if now["version"] == 2 else None

    now = await eventually(second)
    assert now["profile"] == FORM and now["language"] == "es-CO"
    assert "Tone: profesional pero cercana" in now["personality"] and "Never say: precios" in now["personality"]
    assert [(v["version"], v["changed_by"]) for v in now["versions"]] == [(2, "client"), (1, "created")]
    assert now["versions"][1]["personality"] == "Formal."  # the old one kept as it was

    again = await api.put(base, json={"profile": FORM}, headers=OPERATOR)  # the same form: no new version
    assert again.status == 202
    await asyncio.sleep(0.5)
    assert (await (await api.get(base, headers=mine)).json())["version"] == 2


async def test_trying_a_draft_answers_in_its_voice_and_sends_nothing(api: TestClient, sandbox: Sandbox) -> None:
    client = await new_client(api)
    mine = {"Authorization": f"Bearer {client['api_key']}"}
    url = f"/api/clients/{client['client_id']}/personality/try"
    answer = await api.post(url, json={"message": "¿Tienen apartamentos en Chapinero?", "profile": FORM}, headers=mine)
    assert answer.status == 200, await answer.text()
    tried = await answer.json()
    assert "¿Tienen apartamentos en Chapinero?" in tried["reply"] and tried["personality_version"] is None
    assert tried["sent"] is False
    (request,) = [r for r in await sandbox.llm_requests() if "Chapinero" in str(r)]
    system = request["body"]["messages"][0]["content"] if "body" in request else request["messages"][0]["content"]
    assert "Inmobiliaria Andes" in system and "Tone: profesional pero cercana" in system  # the ai-worker's prompt

    saved = await api.post(url, json={"message": "Hola"}, headers=mine)
    assert (await saved.json())["personality_version"] == 1  # the saved one, when no draft is given


async def test_tries_are_bounded_a_minute_and_another_client_cannot_try(api: TestClient) -> None:
    client, other = await new_client(api), await new_client(api)
    mine = {"Authorization": f"Bearer {client['api_key']}"}
    url = f"/api/clients/{client['client_id']}/personality/try"
    statuses = [(await api.post(url, json={"message": "Hola"}, headers=mine)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    theirs = {"Authorization": f"Bearer {other['api_key']}"}
    assert (await api.post(url, json={"message": "Hola"}, headers=theirs)).status == 404
    assert (await api.post(url, json={"message": ""}, headers=mine)).status == 400

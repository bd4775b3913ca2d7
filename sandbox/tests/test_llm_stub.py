"""The OpenAI-compatible stub, driven by the real ``openai`` package."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from sandbox.llm.reply import persona_of

SYSTEM = "You answer WhatsApp messages for Panadería Luz.\nPersonality: Luna, warm and brief,\n   always in Spanish.\n"
PERSONA = "Luna, warm and brief, always in Spanish."
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Hola"},
    {"role": "assistant", "content": "¡Hola! ¿En qué te ayudo?"},
    {"role": "user", "content": "¿Abren hoy?"},
]


@pytest.fixture
async def client(stub: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{stub}/v1", api_key="test", max_retries=0) as client:
        yield client


async def test_reply_names_the_persona_and_the_customers_text(
    client: openai.AsyncOpenAI, stub: str, http: aiohttp.ClientSession
) -> None:
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    [choice] = completion.choices
    assert choice.message.content == f"({PERSONA}) Re: ¿Abren hoy?"
    assert (choice.message.role, choice.finish_reason) == ("assistant", "stop")
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0

    async with http.get(f"{stub}/_stub/requests") as response:
        [recorded] = await response.json()
    assert recorded["messages"] == MESSAGES
    assert recorded["model"] == "gpt-4o-mini"


async def test_streamed_reply_is_the_same_text(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = chunk.usage or usage

    assert "".join(pieces) == f"({PERSONA}) Re: ¿Abren hoy?"
    assert usage is not None and usage.completion_tokens > 0


def test_persona_without_a_personality_line_is_the_first_80_characters_on_one_line() -> None:
    system = "Eres el asistente de la Ferretería El Tornillo Feliz,\nen Medellín. Responde con amabilidad y " * 2
    persona = persona_of([{"role": "system", "content": system}, {"role": "user", "content": "x"}])

    assert persona == " ".join(system.split())[:80].rstrip()
    assert "\n" not in persona and len(persona) <= 80
    assert persona_of([{"role": "user", "content": "no system prompt"}]) == ""
    assert persona_of([{"role": "system", "content": [{"type": "text", "text": "Personality: Max"}]}]) == "Max"


async def test_missing_bearer_is_401_in_openais_error_shape(stub: str, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{stub}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}) as response:
        assert response.status == 401
        error = (await response.json())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


async def test_injected_faults_make_the_client_raise_then_it_recovers(
    client: openai.AsyncOpenAI, stub: str, http: aiohttp.ClientSession
) -> None:
    for fault in ({"status": 500, "count": 1}, {"status": 429, "count": 1}):
        async with http.post(f"{stub}/_stub/faults", json=fault) as response:
            assert response.status == 201

    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raised.value.code == "rate_limit_exceeded"
    completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content == f"({PERSONA}) Re: ¿Abren hoy?"


async def test_invalid_request_is_a_bad_request_error(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=[])


async def test_models_are_listed(client: openai.AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert "gpt-4o-mini" in models


async def test_a_latency_fault_slows_the_next_call_only(start_app) -> None:  # type: ignore[no-untyped-def]
    import time

    import aiohttp

    from sandbox.config import SandboxSettings
    from sandbox.llm import stub as llm_stub

    stub = await start_app(llm_stub.create_app(SandboxSettings()))
    body = {"model": "m", "messages": [{"role": "user", "content": "hola"}]}
    headers = {"Authorization": "Bearer k"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stub}/_stub/faults", json={"delay_s": 0.5}) as response:
            assert response.status == 201
        timings = []
        for _ in range(2):
            started = time.monotonic()
            async with http.post(f"{stub}/v1/chat/completions", json=body, headers=headers) as response:
                assert response.status == 200
            timings.append(time.monotonic() - started)
    assert timings[0] >= 0.5 > timings[1]

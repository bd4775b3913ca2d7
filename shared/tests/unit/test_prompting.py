"""The openai client the ai-worker and the gateway's "try it" share (over openai's aiohttp transport), against the
sandbox's OpenAI stub: the reply in the client's voice, an outage tried once more and then said to be one, a request
the endpoint refuses."""

from __future__ import annotations

import socket

import aiohttp
import openai
import pytest

from shared.prompting import (
    LLMRefused,
    LLMUnavailable,
    OpenAIReplyWriter,
    Persona,
    Turn,
    openai_client,
)
from shared.settings import LLMSettings
from tests.support.sandbox import Sandbox

PERSONA = Persona(business_name="Inmobiliaria Andes", personality="Cálida y breve.", customer_name="Ana", version=3)
ASKED = [Turn("customer", "Hola"), Turn("business", "¡Hola! ¿En qué barrio?"), Turn("customer", "En Chapinero")]


async def fail_next(sandbox: Sandbox, **fault: object) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{sandbox.llm_url}/_stub/faults", json=fault) as r:
        assert r.status == 201, await r.text()


def writer_of(client: openai.AsyncOpenAI) -> OpenAIReplyWriter:
    return OpenAIReplyWriter(client, "stub-model")


def settings_of(base_url: str, timeout_s: float = 10) -> LLMSettings:
    return LLMSettings(openai_base_url=base_url, openai_api_key="test", openai_timeout_s=timeout_s)


async def test_the_reply_is_the_model_s_text_for_the_prompt_of_the_client_s_personality(sandbox: Sandbox) -> None:
    settings = LLMSettings(openai_base_url=f"{sandbox.llm_url}/v1/", openai_model="stub-model")  # no key: "unset"
    async with openai_client(settings) as client:
        text = await writer_of(client).write(PERSONA, ASKED)
    assert text.endswith("Re: En Chapinero") and "Cálida y breve." in text
    (request,) = await sandbox.llm_requests()  # the stub answers 401 without a bearer token
    assert request["model"] == "stub-model" and request["max_tokens"] == 400 and request["temperature"] == 0.4
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "user"]
    assert "Inmobiliaria Andes" in request["messages"][0]["content"] and "Ana" in request["messages"][0]["content"]


async def test_one_outage_is_tried_once_more_and_a_second_one_is_unavailable(sandbox: Sandbox) -> None:
    async with openai_client(settings_of(f"{sandbox.llm_url}/v1", 10), max_retries=1) as client:
        await fail_next(sandbox, status=500, count=1)
        assert "Re: En Chapinero" in await writer_of(client).write(PERSONA, ASKED)
        await fail_next(sandbox, status=503, count=2)
        with pytest.raises(LLMUnavailable, match=r"HTTP 503: .*The engine is currently overloaded"):
            await writer_of(client).write(PERSONA, ASKED)
    assert len(await sandbox.llm_requests()) == 4


@pytest.mark.parametrize("status", [408, 429, 500, 502])
async def test_a_timeout_a_rate_limit_or_a_server_error_is_unavailable(sandbox: Sandbox, status: int) -> None:
    await fail_next(sandbox, status=status)
    async with openai_client(settings_of(f"{sandbox.llm_url}/v1", 10), max_retries=0) as client:
        with pytest.raises(LLMUnavailable, match=f"HTTP {status}"):
            await writer_of(client).write(PERSONA, ASKED)


@pytest.mark.parametrize(("status", "said"), [(401, "Incorrect API key"), (404, "model does not exist"), (400, "")])
async def test_a_wrong_key_or_model_is_refused_with_the_endpoint_s_words(
    sandbox: Sandbox, status: int, said: str
) -> None:
    await fail_next(sandbox, status=status)
    async with openai_client(settings_of(f"{sandbox.llm_url}/v1", 10), max_retries=1) as client:
        with pytest.raises(LLMRefused, match=f"HTTP {status}: .*{said}"):
            await writer_of(client).write(PERSONA, ASKED)
    assert len(await sandbox.llm_requests()) == 1  # refused: not tried again


async def test_an_endpoint_that_is_down_or_too_slow_is_unavailable(sandbox: Sandbox) -> None:
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{unused.getsockname()[1]}/v1"
    async with openai_client(settings_of(down, 5), max_retries=0) as client:
        with pytest.raises(LLMUnavailable, match=r"API(Connection|Timeout)Error"):
            await writer_of(client).write(PERSONA, ASKED)
    await fail_next(sandbox, delay_s=2)
    async with openai_client(settings_of(f"{sandbox.llm_url}/v1", 0.3), max_retries=0) as client:
        with pytest.raises(LLMUnavailable, match="APITimeoutError"):
            await writer_of(client).write(PERSONA, ASKED)

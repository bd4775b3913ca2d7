"""Writing a reply in a client's personality with any OpenAI-compatible chat-completions endpoint.

Shared by the ai-worker, which answers customers, and the gateway's "try it" panel, which shows a client what its
personality would answer without sending anything: the same prompt and the same model, so what the client tries is
what its customers get.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp

from shared.settings import LLMSettings
from shared.text import storable_text


@dataclass(frozen=True)
class Turn:
    role: Literal["customer", "business"]
    text: str


@dataclass(frozen=True)
class Persona:
    business_name: str
    personality: str
    customer_name: str | None = None
    version: int = 0  # the personality's version (directory), recorded with each reply it wrote


class LLMUnavailable(Exception):
    """The endpoint is down, slow or rate-limiting: the reply can be written later."""


class LLMRefused(Exception):
    """The endpoint rejected the request itself (bad model name, bad key): retrying alone will not help."""


class ReplyWriter(Protocol):
    async def write(self, persona: Persona, history: Sequence[Turn]) -> str: ...


def build_prompt(persona: Persona, history: Sequence[Turn]) -> list[dict[str, str]]:
    system = (
        f"You are the WhatsApp assistant of {persona.business_name}.\n"
        f"Personality: {persona.personality}\n\n"
        "Answer as this business would, in the customer's language, briefly, as one WhatsApp message. "
        "Never invent prices, addresses or availability you were not told; offer to have a person follow up."
    )
    if persona.customer_name:
        system += f"\nThe customer's WhatsApp name is {persona.customer_name}."
    messages: list[dict[str, str]] = [{"role": "system", "content": system}]
    for turn in history:
        if turn.role == "customer":
            messages.append({"role": "user", "content": turn.text})
        else:
            messages.append({"role": "assistant", "content": turn.text})
    return messages


# Statuses OpenAI's own client retries (a timeout, a lock conflict, a rate limit, the server's errors): the model
# can answer later. Any other error status is the request itself (a model name, a key): retrying will not help.
_RETRYABLE = frozenset({408, 409, 429})
# Before the one retry of an outage (as OpenAI's client waits first); longer waits are the caller's (a retry queue).
_RETRY_WAIT_S = 0.5


class ChatCompletions:
    """``POST {base_url}/chat/completions`` of any OpenAI-compatible endpoint, on one kept-alive session.

    A plain HTTP call rather than the ``openai`` package: the package costs ~3 ms of CPU per call (request
    transforms, response models), ten times the call itself, and the ai-worker makes one per reply.
    Use it with ``async with``; errors come out as :class:`LLMUnavailable` or :class:`LLMRefused`.
    """

    def __init__(self, base_url: str, api_key: str, timeout_s: float, max_retries: int = 1):
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_retries = max_retries
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ChatCompletions:
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """The endpoint's JSON answer to ``body``, after at most ``max_retries`` retries of an outage."""
        for attempt in range(self._max_retries + 1):
            try:
                return await self._post(body)
            except _Retryable as exc:
                if attempt == self._max_retries:
                    raise LLMUnavailable(str(exc)) from exc
                await asyncio.sleep(_RETRY_WAIT_S)
        raise AssertionError("unreachable")

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("ChatCompletions is used outside its 'async with'")
        try:
            async with self._session.post(self._url, json=body) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        answer = _json(raw)
        if status < 400 and isinstance(answer, dict):
            return answer
        message = f"HTTP {status}: {_error_message(answer)}"
        if status < 400 or status >= 500 or status in _RETRYABLE:  # a 2xx that is not JSON: a proxy's page
            raise _Retryable(message)
        raise LLMRefused(message)


class _Retryable(Exception):
    """An outage (no answer, a rate limit, a server error): worth one more try."""


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:  # a proxy's HTML page, a cut-off body: said as it came
        return raw.decode(errors="replace")


def _error_message(answer: object) -> str:
    """OpenAI's ``{"error": {"message": …}}``, else what came."""
    error = answer.get("error") if isinstance(answer, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return str(message if message else answer)[:500]


def openai_client(settings: LLMSettings) -> ChatCompletions:
    """The client both the ai-worker and the gateway's "try it" use (open it with ``async with``)."""
    return ChatCompletions(
        settings.openai_base_url, settings.openai_api_key.get_secret_value() or "unset", settings.openai_timeout_s
    )


class OpenAIReplyWriter:
    def __init__(self, client: ChatCompletions, model: str):
        self._client, self._model = client, model

    async def write(self, persona: Persona, history: Sequence[Turn]) -> str:
        body = {"model": self._model, "messages": build_prompt(persona, history), "temperature": 0.4, "max_tokens": 400}
        answer = await self._client.create(body)
        try:
            text = (answer["choices"][0]["message"]["content"] or "").strip() if answer.get("choices") else ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMUnavailable(f"the endpoint answered no chat completion: {exc!r}") from exc
        if not isinstance(text, str) or not text:
            raise LLMUnavailable("the model answered with no text")
        return storable_text(text)  # a model may answer a NUL too: it must not cost the customer the reply


def personality_text(profile: dict[str, str]) -> str:
    """The personality the prompt carries, from the dashboard form's fields (shared.contracts.directory
    PersonalityProfile): one labelled line per field given, in the form's order."""
    labels = (
        ("description", "The business"),
        ("tone", "Tone"),
        ("offer", "What to offer"),
        ("hours", "Opening hours"),
        ("never_say", "Never say"),
    )
    return "\n".join(f"{label}: {profile[key].strip()}" for key, label in labels if (profile.get(key) or "").strip())

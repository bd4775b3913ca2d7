"""Writing a reply in a client's personality with any OpenAI-compatible chat-completions endpoint (``openai``).

Shared by the ai-worker, which answers customers, and the gateway's "try it" panel, which shows a client what its
personality would answer without sending anything: the same prompt and the same model, so what the client tries is
what its customers get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

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


def build_prompt(persona: Persona, history: Sequence[Turn]) -> list[ChatCompletionMessageParam]:
    system = (
        f"You are the WhatsApp assistant of {persona.business_name}.\n"
        f"Personality: {persona.personality}\n\n"
        "Answer as this business would, in the customer's language, briefly, as one WhatsApp message. "
        "Never invent prices, addresses or availability you were not told; offer to have a person follow up."
    )
    if persona.customer_name:
        system += f"\nThe customer's WhatsApp name is {persona.customer_name}."
    messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": system}]
    for turn in history:
        if turn.role == "customer":
            messages.append({"role": "user", "content": turn.text})
        else:
            messages.append({"role": "assistant", "content": turn.text})
    return messages


def openai_client(settings: LLMSettings, max_retries: int = 1) -> openai.AsyncOpenAI:
    """The client both the ai-worker and the gateway's "try it" use (close it with ``async with``).

    Over openai's aiohttp transport (``openai[aiohttp]``) rather than its default httpx one: the same client and
    errors at a fraction of httpx's CPU per call, which at hundreds of replies a second is the ai-worker's largest
    cost after the database."""
    return openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() or "unset",
        timeout=settings.openai_timeout_s,
        max_retries=max_retries,
        http_client=openai.DefaultAioHttpClient(timeout=settings.openai_timeout_s),
    )


_TRY_LATER = frozenset({408, 409, 429})  # a timeout, a conflict, a rate limit: what openai itself retries


class OpenAIReplyWriter:
    def __init__(self, client: openai.AsyncOpenAI, model: str):
        self._client, self._model = client, model

    async def write(self, persona: Persona, history: Sequence[Turn]) -> str:
        body = {"model": self._model, "messages": build_prompt(persona, history), "temperature": 0.4, "max_tokens": 400}
        try:
            # The SDK's own path for a request built by the caller (its retries, timeouts, errors and response model):
            # ``chat.completions.create`` walks every message through its TypedDict transform first, an identity for
            # plain role and content strings that cost 5.06 ms of CPU per call with a 20-turn history, against 1.11
            # ms this way (bench/llm_client.py).
            completion = await self._client.post("/chat/completions", cast_to=ChatCompletion, body=body)
        except openai.APIConnectionError as exc:  # down, unreachable or too slow (APITimeoutError)
            raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            said = f"HTTP {exc.status_code}: {exc.message}"
            if exc.status_code in _TRY_LATER or exc.status_code >= 500:
                raise LLMUnavailable(said) from exc
            raise LLMRefused(said) from exc
        text = (completion.choices[0].message.content or "").strip() if completion.choices else ""
        if not text:
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

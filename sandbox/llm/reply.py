"""The stub's deterministic answer and OpenAI's chat-completion body shapes.

The reply "(persona) Re: last user text" lets a test prove, from the WhatsApp side alone, that the
worker put the right personality and the customer's words into the prompt.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterator
from typing import Any

PERSONA_MARKER = "Personality:"
PERSONA_MAX = 80
SYSTEM_FINGERPRINT = "fp_wamux_sandbox"


def content_text(content: Any) -> str:
    """A message's text, whether ``content`` is a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def persona_of(messages: list[dict[str, Any]]) -> str:
    system = next((m for m in messages if m.get("role") in ("system", "developer")), None)
    if system is None:
        return ""
    text = content_text(system.get("content"))
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.lstrip().startswith(PERSONA_MARKER):
            # The personality is that paragraph: up to the first blank line.
            rest = [line.lstrip()[len(PERSONA_MARKER) :]]
            rest += itertools.takewhile(str.strip, lines[index + 1 :])
            text = "\n".join(rest)
            break
    return " ".join(text.split())[:PERSONA_MAX].rstrip()


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def reply_for(messages: list[dict[str, Any]]) -> str:
    return f"({persona_of(messages)}) Re: {last_user_text(messages)}"


def count_tokens(text: str) -> int:
    # Roughly OpenAI's "a token is about four characters of English": plausible numbers for billing code.
    return max(1, (len(text) + 3) // 4) if text else 0


def usage(messages: list[dict[str, Any]], reply: str) -> dict[str, Any]:
    prompt = sum(count_tokens(content_text(m.get("content"))) + 4 for m in messages)
    completion = count_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_urlsafe(21).replace("-", "x").replace("_", "y")


def completion_body(model: str, messages: list[dict[str, Any]], reply: str) -> dict[str, Any]:
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(messages, reply),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def chunk_bodies(
    model: str, messages: list[dict[str, Any]], reply: str, include_usage: bool
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` sequence of a streamed answer, a few words per chunk."""
    base = {
        "id": completion_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        body = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            body["usage"] = None
        return body

    yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
    words = reply.split(" ")
    for start in range(0, len(words), 3):
        piece = " ".join(words[start : start + 3])
        yield chunk({"content": piece if start == 0 else " " + piece}, None)
    yield chunk({}, "stop")
    if include_usage:
        yield {**base, "choices": [], "usage": usage(messages, reply)}

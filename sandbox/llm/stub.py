"""An OpenAI-compatible chat endpoint with a deterministic answer, fault injection and a request log.

Speaks enough of OpenAI's HTTP API for the official ``openai`` package, streaming or not:
``POST /v1/chat/completions`` and ``GET /v1/models``. Errors use OpenAI's ``{"error": {...}}`` shape.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox.admin_io import read_model
from sandbox.config import SandboxSettings
from sandbox.llm.reply import chunk_bodies, completion_body, reply_for

MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")

# status -> (type, code, message), as OpenAI words them
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


class StubFault(BaseModel):
    """The next ``count`` calls fail with ``status``, or (without a status) answer only after ``delay_s``:
    a model that is down, or one slow enough to kill a worker in the middle of it."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    delay_s: float = Field(default=0.0, ge=0, le=120)
    count: int = Field(default=1, ge=1)


@dataclass
class StubState:
    settings: SandboxSettings
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    faults: deque[int] = field(default_factory=deque)  # one status per call still to fail
    delays: deque[float] = field(default_factory=deque)  # one pause per call still to slow down


STUB: web.AppKey[StubState] = web.AppKey("llm_stub", StubState)


def openai_error(status: int, message: str | None = None, param: str | None = None) -> web.Response:
    kind, code, default = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, f"HTTP {status}")
    )
    body = {"error": {"message": message or default, "type": kind, "param": param, "code": code}}
    headers = {"x-request-id": "req_" + secrets.token_hex(16)}
    if status == 429:
        headers["retry-after"] = "1"
    return web.json_response(body, status=status, headers=headers)


def create_app(settings: SandboxSettings) -> web.Application:
    app = web.Application()
    app[STUB] = StubState(settings)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/_stub/requests", list_requests)
    app.router.add_delete("/_stub/requests", clear_requests)
    app.router.add_post("/_stub/faults", add_fault)
    app.router.add_delete("/_stub/faults", clear_faults)
    return app


def _has_bearer(request: web.Request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STUB]
    if not _has_bearer(request):
        return openai_error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    try:
        body: Any = await request.json()
    except ValueError:
        return openai_error(400, "We could not parse the JSON body of your request.")
    if isinstance(body, dict):
        state.requests.append(body)
    if state.faults:
        return openai_error(state.faults.popleft())
    if state.delays:
        await asyncio.sleep(state.delays.popleft())
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return openai_error(400, "you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return openai_error(400, "'messages' must be a non-empty array of objects.", "messages")
    reply = reply_for(messages)
    if not body.get("stream"):
        return web.json_response(completion_body(body["model"], messages, reply))
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for chunk in chunk_bodies(body["model"], messages, reply, include_usage):
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def list_models(request: web.Request) -> web.Response:
    if not _has_bearer(request):
        return openai_error(401)
    created = int(time.time())
    data = [{"id": m, "object": "model", "created": created, "owned_by": "wamux-sandbox"} for m in MODELS]
    return web.json_response({"object": "list", "data": data})


async def list_requests(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[STUB].requests))


async def clear_requests(request: web.Request) -> web.Response:
    request.app[STUB].requests.clear()
    return web.Response(status=204)


async def add_fault(request: web.Request) -> web.Response:
    fault = await read_model(request, StubFault)
    state = request.app[STUB]
    if fault.status is not None:
        state.faults.extend([fault.status] * fault.count)
    elif fault.delay_s > 0:
        state.delays.extend([fault.delay_s] * fault.count)
    else:
        return openai_error(400, "give a status to fail with or a delay_s to wait")
    return web.json_response({"pending": len(state.faults) + len(state.delays)}, status=201)


async def clear_faults(request: web.Request) -> web.Response:
    request.app[STUB].faults.clear()
    request.app[STUB].delays.clear()
    return web.Response(status=204)

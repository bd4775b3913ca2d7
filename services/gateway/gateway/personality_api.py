"""A client's personality over REST (issue 9): read it with its versions, save a new one, and try it.

``PUT`` publishes ``client.update`` with the form's fields and who saved it; the directory keeps every version.
``POST …/personality/try`` asks the same model with the same prompt the ai-worker uses (``shared.prompting``) for
a reply to a sample customer message — the saved personality, or a draft given in the body — and returns it:
nothing is sent to WhatsApp, nothing is counted. The operator's key, or the client's own.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict, deque
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from gateway import commands
from gateway.keys import LLM, POOL, SETTINGS
from gateway.onboarding_schema import Accepted
from gateway.operator import operator_or_client, path_id
from shared.contracts.directory import ClientUpdate, PersonalityProfile
from shared.prompting import LLMRefused, LLMUnavailable, Persona, Turn, personality_text

routes = web.RouteTableDef()
TRIES = web.AppKey("personality_tries", dict)
_VERSIONS_SQL = """
SELECT version, personality, profile, language, changed_by, changed_at
  FROM directory_read.personality_versions WHERE client_id = $1 ORDER BY version DESC LIMIT $2"""


class PersonalitySave(BaseModel):
    model_config = {"extra": "forbid"}

    profile: PersonalityProfile
    language: str | None = Field(default=None, min_length=2, max_length=16, description="BCP 47, e.g. es-CO")


class PersonalityTry(BaseModel):
    model_config = {"extra": "forbid"}

    message: str = Field(min_length=1, max_length=1000, description="What a customer might write")
    profile: PersonalityProfile | None = Field(default=None, description="A draft to try instead of the saved one")


class TryAnswer(BaseModel):
    reply: str
    personality_version: int | None = Field(description="The saved version tried; null for a draft")
    sent: bool = Field(default=False, description="Always false: nothing reaches WhatsApp, nothing is counted")


async def _client(request: web.Request) -> tuple[uuid.UUID, Any]:
    caller = await operator_or_client(request)
    client_id = path_id(request, "client_id", "client")
    caller.require(client_id)
    row = await request.app[POOL].fetchrow(
        """SELECT name, personality, personality_profile, personality_version, language
             FROM directory_read.clients WHERE id = $1""",
        client_id,
    )
    if row is None:
        raise web.HTTPNotFound(text="no such client")
    return client_id, row


def _version(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}


@routes.get("/api/clients/{client_id}/personality")
async def read_personality(request: web.Request) -> web.Response:
    client_id, row = await _client(request)
    versions = await request.app[POOL].fetch(_VERSIONS_SQL, client_id, 50)
    return web.json_response(
        {
            "version": row["personality_version"],
            "personality": row["personality"],
            "profile": row["personality_profile"],
            "language": row["language"],
            "versions": [_version(v) for v in versions],
        }
    )


@routes.put("/api/clients/{client_id}/personality")
async def save_personality(request: web.Request) -> web.Response:
    caller = await operator_or_client(request)
    client_id, _ = await _client(request)
    saved = await commands.body(request, PersonalitySave)
    by = "operator" if caller.is_operator else "client"
    update = ClientUpdate(client_id=client_id, profile=saved.profile, language=saved.language, changed_by=by)
    command_id = commands.chosen_id(request, ClientUpdate.TYPE, client_id)
    await commands.publish(request, update, client_id, command_id)
    changing = ["personality", *(["language"] if saved.language else [])]
    accepted = Accepted(command_id=command_id, client_id=client_id, changing=changing)
    return web.json_response(accepted.model_dump(mode="json"), status=202)


def _allow_try(request: web.Request, client_id: uuid.UUID) -> None:
    """A bound on tries a minute per client (each one costs the model's tokens)."""
    limit = request.app[SETTINGS].personality_tries_per_minute
    recent: deque[float] = request.app[TRIES][client_id]
    now = time.monotonic()
    while recent and now - recent[0] > 60:
        recent.popleft()
    if len(recent) >= limit:
        retry = int(60 - (now - recent[0])) + 1
        raise web.HTTPTooManyRequests(
            text=f"{limit} tries a minute at most: try again in {retry} s", headers={"Retry-After": str(retry)}
        )
    recent.append(now)


@routes.post("/api/clients/{client_id}/personality/try")
async def try_personality(request: web.Request) -> web.Response:
    client_id, row = await _client(request)
    trial = await commands.body(request, PersonalityTry)
    _allow_try(request, client_id)
    draft = trial.profile is not None
    personality = personality_text(trial.profile.model_dump()) if trial.profile is not None else row["personality"]
    persona = Persona(business_name=row["name"], personality=personality, version=row["personality_version"])
    try:
        reply = await request.app[LLM].write(persona, [Turn("customer", trial.message)])
    except LLMUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=f"the model did not answer; try again in a moment ({exc})") from None
    except LLMRefused as exc:
        raise web.HTTPBadGateway(text=f"the model refused the request (its model name or key): {exc}") from None
    answer = TryAnswer(reply=reply, personality_version=None if draft else row["personality_version"])
    return web.json_response(answer.model_dump(mode="json"))


def new_tries() -> dict[uuid.UUID, deque[float]]:
    return defaultdict(deque)

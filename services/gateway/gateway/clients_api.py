"""Clients over REST: the operator creates one (its API key shown once), the operator or the client changes it.

Published as the directory's ``client.create`` / ``client.update``; read back from ``directory_read.clients``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from gateway import commands
from gateway.keys import POOL
from gateway.onboarding_schema import Accepted, ClientChanges, ClientCreatedAnswer, NewClient
from gateway.operator import operator, operator_or_client, path_id
from shared.api_keys import hash_api_key, new_api_key
from shared.contracts.directory import ClientCreate, ClientUpdate

routes = web.RouteTableDef()

OPERATOR_FIELDS = frozenset({"quota_policy", "free_quota"})
CLIENT_FIELDS = tuple(name for name in ClientChanges.model_fields if name not in OPERATOR_FIELDS)
_CLIENT_SQL = """
SELECT id AS client_id, name, personality, language, timezone, quota_policy, free_quota, created_at
  FROM directory_read.clients WHERE id = $1
"""


@routes.post("/api/clients")
async def create_client(request: web.Request) -> web.Response:
    await operator(request)
    new = await commands.body(request, NewClient)
    client_id = new.client_id or commands.chosen_id(request, ClientCreate.TYPE)
    if await request.app[POOL].fetchval("SELECT true FROM directory_read.clients WHERE id = $1", client_id):
        # Only the key's hash is kept: a second key for the same client would be a different command.
        raise web.HTTPConflict(
            text=f"client {client_id} exists already; its API key was shown once, when it was created"
        )
    api_key = new_api_key()
    profile = new.model_dump(exclude={"client_id"})
    command = ClientCreate(client_id=client_id, api_key_sha256=hash_api_key(api_key).hex(), **profile)
    # A retry makes a new key, hence a new command: never a derived id here (the directory refuses the second).
    await commands.publish(request, command, client_id, uuid.uuid4())
    answer = ClientCreatedAnswer(client_id=client_id, api_key=api_key, **profile)
    # 201 once the directory has stored it (usually milliseconds), so the next call (a number for it) finds it;
    # 202 if it has not within commands.STORED_WAIT_S: the command is on its way, GET /api/clients/{id} shows it soon.
    status = 201 if await commands.stored(request.app[POOL], "clients", client_id) else 202
    return web.json_response(answer.model_dump(mode="json"), status=status, headers={"Cache-Control": "no-store"})


@routes.get("/api/clients/{client_id}")
async def read_client(request: web.Request) -> web.Response:
    caller = await operator_or_client(request)
    client_id = path_id(request, "client_id", "client")
    caller.require(client_id)
    row = await request.app[POOL].fetchrow(_CLIENT_SQL, client_id)
    if row is None:
        raise web.HTTPNotFound(text="no such client (one created a moment ago appears once the directory stored it)")
    return web.json_response(_json(row))


@routes.patch("/api/clients/{client_id}")
async def update_client(request: web.Request) -> web.Response:
    caller = await operator_or_client(request)
    client_id = path_id(request, "client_id", "client")
    caller.require(client_id)
    changes = (await commands.body(request, ClientChanges)).model_dump(exclude_unset=True, exclude_none=True)
    if not caller.is_operator and (theirs := sorted(OPERATOR_FIELDS & changes.keys())):
        # The free allowance is what the operator sells: a client raising its own would be billing itself.
        raise web.HTTPForbidden(
            text=f"{', '.join(theirs)} can be changed only with the operator key; a client's key may change "
            f"{', '.join(CLIENT_FIELDS)}"
        )
    if not changes:
        raise web.HTTPBadRequest(text=f"nothing to change: give one of {', '.join(ClientChanges.model_fields)}")
    if not await request.app[POOL].fetchval("SELECT true FROM directory_read.clients WHERE id = $1", client_id):
        raise web.HTTPNotFound(text="no such client")
    command_id = commands.chosen_id(request, ClientUpdate.TYPE, client_id)
    await commands.publish(request, ClientUpdate(client_id=client_id, **changes), client_id, command_id)
    accepted = Accepted(command_id=command_id, client_id=client_id, changing=sorted(changes))
    return web.json_response(accepted.model_dump(mode="json"), status=202)


def _json(row: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else str(v) if k.endswith("id") else v) for k, v in row.items()
    }

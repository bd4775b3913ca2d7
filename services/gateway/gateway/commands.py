"""How the REST API hands a person's request to the directory: a strict body, a command id, a confirmed publish.

The gateway writes nothing: each call publishes one of the directory's commands and answers once the broker has
confirmed it (else 503, and nothing happened). An ``Idempotency-Key`` header makes the command's id (and the ids
the call chooses) deterministic, so a retried request is the same command and the directory carries it out once.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.keys import PUBLISHER
from gateway.onboarding_schema import problems
from shared.contracts.envelope import Command, derived_id, wrap
from shared.logging import get_logger
from shared.messaging.broker import PublishFailed

log = get_logger(__name__)
B = TypeVar("B", bound=BaseModel)
IDEMPOTENCY_KEY = "Idempotency-Key"


async def body(request: web.Request, model: type[B]) -> B:
    """The JSON body as ``model``, or 400 naming every field that is wrong. No body reads as ``{}``."""
    raw = await request.read()
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=f"invalid body: {problems(exc)}") from None


def chosen_id(request: web.Request, *parts: object) -> uuid.UUID:
    """An id derived from the request's Idempotency-Key and ``parts`` (what the call is about), else a new one."""
    key = request.headers.get(IDEMPOTENCY_KEY, "").strip()
    if not key:
        return uuid.uuid4()
    if len(key) > 200:
        raise web.HTTPBadRequest(text=f"{IDEMPOTENCY_KEY} is longer than 200 characters")
    return derived_id("gateway.rest", *(str(p) for p in parts), key)


async def publish(request: web.Request, command: Command, tenant_id: uuid.UUID, command_id: uuid.UUID) -> None:
    envelope = wrap(command, correlation_id=command_id.hex, tenant_id=tenant_id, id=command_id)
    try:
        await request.app[PUBLISHER].publish(envelope)
    except PublishFailed as exc:
        log.error("rest.publish_failed", type=command.TYPE, reason=exc.reason, command_id=str(command_id))
        raise web.HTTPServiceUnavailable(
            text=f"the broker did not take the {command.TYPE} command ({exc.reason}): nothing was done; retry",
            headers={"Retry-After": "5"},
        ) from None
    log.info("rest.command_published", type=command.TYPE, command_id=str(command_id), tenant_id=str(tenant_id))


STORED_WAIT_S = 5.0


async def stored(pool: asyncpg.Pool, view: str, row_id: uuid.UUID, wait_s: float = STORED_WAIT_S) -> bool:
    """Whether the directory has stored what a command just published creates, within ``wait_s`` (usually
    milliseconds): an answer given after it lets the caller's next call (a number for the new client, the client
    opening its signup link) find it. ``view`` is one of the directory's read views, a code constant."""
    if view not in ("clients", "onboardings"):
        raise ValueError(f"not a directory view the API waits on: {view}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not await pool.fetchval(f"SELECT true FROM directory_read.{view} WHERE id = $1", row_id):  # noqa: S608
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True

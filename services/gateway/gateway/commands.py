"""How the REST API hands a person's request to the directory: a strict body, a command id, a confirmed publish.

The gateway writes nothing: each call publishes one of the directory's commands and answers once the broker has
confirmed it (else 503, and nothing happened). An ``Idempotency-Key`` header makes the command's id (and the ids
the call chooses) deterministic, so a retried request is the same command and the directory carries it out once.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

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

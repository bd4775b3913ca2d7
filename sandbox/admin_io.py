"""Request parsing shared by the sandbox's own control endpoints (not part of any real API)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def read_model(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise bad_request(details or "invalid body") from exc


def parse_since(raw: str | None) -> datetime | None:
    """An ISO 8601 instant; a naive one is taken as UTC, like every time the sandbox prints."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+"))  # an unescaped "+" arrives as a space
    except ValueError as exc:
        raise bad_request(f"since is not an ISO 8601 time: {raw!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

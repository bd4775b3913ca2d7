"""Who is calling the client API: the client whose API key it carries, and no other."""

from __future__ import annotations

import uuid

from aiohttp import web

from gateway.directory import hash_api_key
from gateway.keys import POOL


async def authenticated_client(request: web.Request) -> uuid.UUID:
    header = request.headers.get("Authorization", "")
    api_key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not api_key:
        raise web.HTTPUnauthorized(text="missing API key: send 'Authorization: Bearer <key>'")
    client_id = await request.app[POOL].fetchval(
        "SELECT id FROM directory.clients WHERE api_key_hash = $1", hash_api_key(api_key)
    )
    if client_id is None:
        raise web.HTTPUnauthorized(text="unknown API key")
    try:
        requested = uuid.UUID(request.match_info["client_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such client") from None
    if requested != client_id:
        raise web.HTTPNotFound(text="no such client")
    return requested

"""The client's own view: numbers, conversations and usage, behind the client's API key.

A key opens exactly one client's data; any other client id answers 404, as if it did not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from gateway.directory import hash_api_key
from gateway.keys import POOL

routes = web.RouteTableDef()

_STATS_SQL = """
SELECT phone_number, phone_number_id, display_name, status, month, free_quota, free_remaining,
       conversations_this_month, paid_conversations, conversations_total, messages_in, messages_out,
       messages_this_month, messages_delivered
  FROM dashboard.number_usage WHERE client_id = $1 ORDER BY phone_number
"""


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


@routes.get("/api/clients/{client_id}/stats")
async def client_stats(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    rows = await request.app[POOL].fetch(_STATS_SQL, client_id)
    numbers: list[dict[str, Any]] = [{**dict(r), "month": r["month"].isoformat()} for r in rows]
    return web.json_response({"client_id": str(client_id), "numbers": numbers})

"""The client's own view: numbers, conversations and usage, behind the client's API key.

A key opens exactly one client's data; any other client id answers 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.auth import authenticated_client
from gateway.keys import POOL

routes = web.RouteTableDef()

_STATS_SQL = """
SELECT phone_number, phone_number_id, display_name, status, month, free_quota, free_remaining,
       conversations_this_month, paid_conversations, conversations_total, messages_in, messages_out,
       messages_this_month, messages_delivered
  FROM dashboard.number_usage WHERE client_id = $1 ORDER BY phone_number
"""


@routes.get("/api/clients/{client_id}/stats")
async def client_stats(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    rows = await request.app[POOL].fetch(_STATS_SQL, client_id)
    numbers: list[dict[str, Any]] = [{**dict(r), "month": r["month"].isoformat()} for r in rows]
    return web.json_response({"client_id": str(client_id), "numbers": numbers})

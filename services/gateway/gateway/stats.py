"""The client's own view: numbers, conversations and usage, behind the client's API key.

A key opens exactly one client's data; any other client id answers 404, as if it did not exist. Usage is the
client's own, by number: a number that came from another client starts from nothing here, and one the client
handed on stays listed under ``former_numbers`` for the rest of the month.
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
# This month's usage of numbers the client has since handed to another client: still its own month.
_FORMER_SQL = """
SELECT phone_number_id, month, moved_at, conversations_this_month, free_used, paid_conversations, messages_in,
       messages_out, messages_this_month, messages_delivered
  FROM dashboard.former_number_usage WHERE client_id = $1 ORDER BY phone_number_id
"""


@routes.get("/api/clients/{client_id}/stats")
async def client_stats(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    pool = request.app[POOL]
    numbers = [_json(r) for r in await pool.fetch(_STATS_SQL, client_id)]
    former = [_json(r) for r in await pool.fetch(_FORMER_SQL, client_id)]
    return web.json_response({"client_id": str(client_id), "numbers": numbers, "former_numbers": former})


def _json(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}

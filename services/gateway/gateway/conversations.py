"""The client's conversations and their messages, for its dashboard (read-only views, own data only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.auth import authenticated_client
from gateway.keys import POOL

routes = web.RouteTableDef()
MAX_LIMIT = 200


def _limit(request: web.Request, default: int) -> int:
    try:
        return max(1, min(int(request.query.get("limit", default)), MAX_LIMIT))
    except ValueError:
        raise web.HTTPBadRequest(text=f"limit must be a number from 1 to {MAX_LIMIT}") from None


def _json(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}


@routes.get("/api/clients/{client_id}/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    rows = await request.app[POOL].fetch(
        """SELECT phone_number_id, wa_id, profile_name, messages, messages_in, last_message_at, last_body,
                  last_direction
             FROM dashboard.conversations WHERE client_id = $1 ORDER BY last_message_at DESC LIMIT $2""",
        client_id,
        _limit(request, 50),
    )
    return web.json_response({"conversations": [_json(r) for r in rows]})


@routes.get("/api/clients/{client_id}/conversations/{phone_number_id}/{wa_id}/messages")
async def conversation_messages(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    rows = await request.app[POOL].fetch(
        """SELECT * FROM (
               SELECT wamid, direction, message_type, body, media_id, media_mime_type, sent_at, seq
                 FROM dashboard.messages
                WHERE client_id = $1 AND phone_number_id = $2 AND wa_id = $3
                ORDER BY sent_at DESC, seq DESC LIMIT $4) latest
            ORDER BY sent_at, seq""",
        client_id,
        request.match_info["phone_number_id"],
        request.match_info["wa_id"],
        _limit(request, 100),
    )
    return web.json_response({"messages": [{k: v for k, v in _json(r).items() if k != "seq"} for r in rows]})

"""A customer's media, fetched from Meta on demand for the client it was sent to.

Meta keeps media about 30 days and hands out download URLs that expire in minutes, so nothing is cached
here: each request asks the Graph API for a fresh URL, downloads with the app's token and checks the sha256.
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth import authenticated_client
from gateway.keys import GRAPH, POOL
from shared.graph.errors import GraphError
from shared.logging import get_logger

log = get_logger(__name__)
routes = web.RouteTableDef()


@routes.get("/api/clients/{client_id}/media/{media_id}")
async def client_media(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    media_id = request.match_info["media_id"]
    phone_number_id = await request.app[POOL].fetchval(
        "SELECT phone_number_id FROM dashboard.messages WHERE media_id = $1 AND client_id = $2 LIMIT 1",
        media_id,
        client_id,
    )
    if phone_number_id is None:
        raise web.HTTPNotFound(text="no such media for this client")
    try:
        media = await request.app[GRAPH].download_media(media_id)
    except GraphError as exc:
        log.warning("media.unavailable", media_id=media_id, code=exc.code, error=exc.title)
        # Retryable (Meta down, URL expired) is Meta's failure: 502. Otherwise Meta no longer has it: 404.
        return web.Response(status=502 if exc.retryable else 404, text=f"media unavailable from Meta: {exc.title}")
    return web.Response(
        body=media.data,
        content_type=media.mime_type.split(";")[0],
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )

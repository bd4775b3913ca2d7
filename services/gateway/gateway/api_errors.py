"""Every error of the REST API (``/api/…``) as JSON a program can read: ``{"error": "<what went wrong, in plain
words>", "status": 409}``, whatever raised it (a handler's ``HTTPConflict(text=…)``, aiohttp's own 404 or 405).
Headers the error carries (``Retry-After``, ``Allow``, ``WWW-Authenticate``) are kept. Pages (the dashboard, the
signup pages) and Meta's webhook keep their own bodies."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.typedefs import Handler

_KEPT = ("Retry-After", "Allow", "WWW-Authenticate", "Cache-Control")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        words = exc.text or exc.reason
        headers = {name: exc.headers[name] for name in _KEPT if name in exc.headers}
        body = json.dumps({"error": words, "status": exc.status}, ensure_ascii=False)
        return web.Response(status=exc.status, text=body, content_type="application/json", headers=headers)

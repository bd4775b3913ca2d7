"""The client dashboard: one static page that reads the client API with the client's own key."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()
_STATIC = resources.files("gateway") / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
# The page talks only to this origin and runs no inline script: a stolen key cannot be exfiltrated elsewhere.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; object-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(name: str) -> web.Response:
    body = (_STATIC / name).read_bytes()
    suffix = name[name.rindex(".") :]
    return web.Response(body=body, content_type=_TYPES[suffix], charset="utf-8", headers=_HEADERS)


@routes.get("/dashboard")
async def page(_: web.Request) -> web.Response:
    return _file("dashboard.html")


@routes.get("/dashboard/{name:dashboard\\.(?:js|css)}")
async def asset(request: web.Request) -> web.Response:
    return _file(request.match_info["name"])

"""The client dashboard: static pages and modules that read the client API with the client's own key.

Served from ``gateway/static``: the page, its script modules and style (``dashboard*.js``/``.css``) and its word
catalogues (``i18n/<language>.json``). Nothing else of that folder is reachable from here.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()
_STATIC = resources.files("gateway") / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
LANGUAGES = ("es", "en")
# The page talks only to this origin and runs no inline script or style: a stolen key cannot be exfiltrated
# elsewhere. Photos, voice notes and videos are fetched with the key and shown from blob: URLs.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _file(*parts: str) -> web.Response:
    resource = _STATIC.joinpath(*parts)
    if not resource.is_file():
        raise web.HTTPNotFound(text="no such dashboard file")
    name = parts[-1]
    body = resource.read_bytes()
    return web.Response(body=body, content_type=_TYPES[name[name.rindex(".") :]], charset="utf-8", headers=_HEADERS)


@routes.get("/dashboard")
async def page(_: web.Request) -> web.Response:
    return _file("dashboard.html")


@routes.get("/dashboard/{name:dashboard(?:-[a-z0-9]+)?\\.(?:js|css)}")
async def asset(request: web.Request) -> web.Response:
    return _file(request.match_info["name"])


@routes.get("/dashboard/i18n/{language:[a-z]{2}}.json")
async def catalogue(request: web.Request) -> web.Response:
    language = request.match_info["language"]
    if language not in LANGUAGES:
        raise web.HTTPNotFound(text=f"no dashboard catalogue for {language}: there are {', '.join(LANGUAGES)}")
    return _file("i18n", f"{language}.json")

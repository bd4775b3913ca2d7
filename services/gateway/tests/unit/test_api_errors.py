"""Errors of /api as JSON a program can read; pages and the webhook keep their own bodies."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.api_errors import json_errors


async def conflict(_: web.Request) -> web.Response:
    raise web.HTTPConflict(text="+573001234567 belongs to another client")


async def limited(_: web.Request) -> web.Response:
    raise web.HTTPTooManyRequests(text="too many wrong keys", headers={"Retry-After": "42"})


async def page(_: web.Request) -> web.Response:
    raise web.HTTPGone(text="<p>expired</p>", content_type="text/html")


def app() -> web.Application:
    application = web.Application(middlewares=[json_errors])
    application.router.add_post("/api/register-client-number", conflict)
    application.router.add_get("/api/clients/x/stats", limited)
    application.router.add_get("/onboard/x", page)
    return application


async def test_api_errors_are_json_with_the_words_and_the_headers_they_carry() -> None:
    async with TestClient(TestServer(app())) as client:
        refused = await client.post("/api/register-client-number")
        assert (refused.status, refused.content_type) == (409, "application/json")
        assert await refused.json() == {"error": "+573001234567 belongs to another client", "status": 409}
        slow_down = await client.get("/api/clients/x/stats")
        assert slow_down.status == 429 and slow_down.headers["Retry-After"] == "42"
        assert (await slow_down.json())["error"] == "too many wrong keys"
        unknown = await client.get("/api/nothing-here")
        assert unknown.status == 404 and (await unknown.json())["status"] == 404
        wrong_method = await client.delete("/api/register-client-number")
        assert wrong_method.status == 405 and "POST" in wrong_method.headers["Allow"]


async def test_pages_keep_their_own_bodies() -> None:
    async with TestClient(TestServer(app())) as client:
        gone = await client.get("/onboard/x")
        assert (gone.status, gone.content_type, await gone.text()) == (410, "text/html", "<p>expired</p>")

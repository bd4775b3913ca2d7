"""The ceiling: an aiohttp server that only reads the body, checks X-Hub-Signature-256 on its bytes, and answers 200.

    .venv/bin/python bench/support/bare_server.py --port P --secret S

Same aiohttp as the gateway and its event loop (uvloop when the environment has it); nothing published, parsed or
logged per request. GET /healthz answers 200 once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac

from aiohttp import web

try:
    import uvloop
except ImportError:
    uvloop = None


def create_app(secret: bytes) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", "").encode(), expected.encode()):
            return web.Response(status=401, text="bad signature")
        return web.Response(text="EVENT_RECEIVED")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/webhook/whatsapp", receive)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    print(f"bare_server loop={'uvloop' if uvloop is not None else 'asyncio'}", flush=True)
    if uvloop is not None:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(create_app(args.secret.encode()), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()

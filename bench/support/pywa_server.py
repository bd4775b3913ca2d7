"""pywa's webhook server, run from the benchmark's own venv (.bench/pywa-venv; pywa is never a wamux dependency).

    .bench/pywa-venv/bin/python bench/support/pywa_server.py --port P --secret S --variant own-async

Variants: ``own`` is pywa's own server (the Starlette app ``pywa run`` builds:
``WhatsApp._setup_and_get_starlette_app``), ``fastapi`` is ``WhatsApp(server=FastAPI())``; ``sync`` is
``from pywa import WhatsApp``, ``async`` is ``pywa_async``.
Every variant runs under uvicorn with uvloop and httptools, one worker, no access log, pywa's logs at WARNING; it
checks the signature (``app_secret``), parses each update into its Message and hands it to a handler that does
nothing with it. Duplicate skipping is off: the benchmark posts the same bytes again and again, where Meta's
webhooks each differ, and with it on pywa would parse only the first. On exit it prints how many messages its
handler saw, so the benchmark can tell that they were parsed, not only answered.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from typing import Any, ClassVar

import uvicorn

VARIANTS = ("own-async", "own-sync", "fastapi-async", "fastapi-sync")
ENDPOINT = "/webhook/whatsapp"
VERIFY_TOKEN = "bench-verify-token"


def build(variant: str, secret: str) -> tuple[Any, list[int]]:
    server_kind, flavour = variant.split("-")
    whatsapp_cls = importlib.import_module("pywa_async" if flavour == "async" else "pywa").WhatsApp
    server = None
    if server_kind == "fastapi":
        from fastapi import FastAPI

        server = FastAPI()
    wa = whatsapp_cls(
        server=server,
        webhook_endpoint=ENDPOINT,
        verify_token=VERIFY_TOKEN,
        app_secret=secret,
        validate_updates=True,
        skip_duplicate_updates=False,
    )
    handled = [0]
    if flavour == "async":

        @wa.on_message()
        async def ignore_async(_: Any, __: Any) -> None:
            handled[0] += 1

    else:

        @wa.on_message()
        def ignore(_: Any, __: Any) -> None:
            handled[0] += 1

    app = server if server is not None else wa._setup_and_get_starlette_app()
    return app, handled


class CountingServer(uvicorn.Server):
    """uvicorn's server, saying at shutdown how many messages the handler saw (uvicorn re-raises SIGTERM after
    its graceful shutdown, so an atexit hook would never run)."""

    handled: ClassVar[list[int]] = [0]

    async def _serve(self, sockets: Any = None) -> None:
        await super()._serve(sockets)
        print(f"pywa_handled {self.handled[0]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--variant", choices=VARIANTS, default="own-async")
    args = parser.parse_args()
    app, CountingServer.handled = build(args.variant, args.secret)
    logging.getLogger("pywa").setLevel(logging.WARNING)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_config=None,
        log_level="warning",
        access_log=False,
    )
    CountingServer(config).run()


if __name__ == "__main__":
    main()

"""``python -m sandbox``: the WhatsApp Cloud API emulator and the OpenAI stub, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

from aiohttp import web

from sandbox.config import SandboxSettings
from sandbox.llm import stub as llm_stub
from sandbox.meta import emulator as graph_emulator


def _bound_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]  # the real port when the configured one is 0
    return f"http://{host}:{port}"


async def serve(settings: SandboxSettings, stop: asyncio.Event) -> None:
    runners: list[web.AppRunner] = []
    try:
        urls: dict[str, str] = {}
        for name, app, port in (
            ("graph_url", graph_emulator.create_app(settings), settings.sandbox_graph_port),
            ("llm_url", llm_stub.create_app(settings), settings.sandbox_llm_port),
        ):
            runner = web.AppRunner(app, access_log=None)
            runners.append(runner)
            await runner.setup()
            await web.TCPSite(runner, settings.sandbox_host, port).start()
            urls[name] = _bound_url(runner)
        urls["llm_base_url"] = urls["llm_url"] + "/v1"
        urls["webhook_url"] = settings.sandbox_webhook_url
        print(json.dumps({"event": "sandbox_started", **urls}), flush=True)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


async def _main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(SandboxSettings(), stop)


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's where it is installed, as the services run: the emulator shares the machine's cores with them, and
    its HTTP (a send, a read, Meta's signed statuses back) costs less through uvloop's C transports."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with asyncio.Runner(loop_factory=_event_loop) as runner:
        runner.run(_main())
    print(json.dumps({"event": "sandbox_stopped"}), flush=True)


if __name__ == "__main__":
    main()

"""Helpers for tests that drive the sandbox: a stand-in webhook receiver, an app server on a free port, and
Graph failures injected over the emulator's admin API.

Kept in the package (not in a conftest) so that other suites, such as wamux's end-to-end tests, can use
the same receiver to watch what the emulator delivers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Check ``X-Hub-Signature-256`` the way a receiver must: on the raw bytes, in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


@dataclass(frozen=True)
class Delivery:
    body: bytes
    signature: str | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST; answers with queued statuses first, then 200."""

    url: str = ""
    deliveries: asyncio.Queue[Delivery] = field(default_factory=asyncio.Queue)
    answers: deque[int] = field(default_factory=deque)
    on_delivery: Callable[[Delivery], Awaitable[None]] | None = None

    def app(self, path: str = "/webhook/whatsapp") -> web.Application:
        app = web.Application()
        app.router.add_post(path, self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        delivery = Delivery(await request.read(), request.headers.get("X-Hub-Signature-256"))
        await self.deliveries.put(delivery)
        status = self.answers.popleft() if self.answers else 200
        if self.on_delivery is not None and status < 300:
            await self.on_delivery(delivery)
        return web.Response(status=status)

    async def next(self, wait_s: float = 5.0) -> Delivery:
        return await asyncio.wait_for(self.deliveries.get(), wait_s)


async def serve_app(app: web.Application, host: str = "127.0.0.1") -> tuple[str, TestServer]:
    """Start ``app`` on a free port; return its base URL and the server (close it when done)."""
    server = TestServer(app, host=host)
    await server.start_server()
    return str(server.make_url("")).rstrip("/"), server


async def inject_fault(http: aiohttp.ClientSession, emulator_url: str, **fault: Any) -> dict[str, Any]:
    """``POST /_sandbox/faults`` (a body of :class:`sandbox.meta.faults.FaultRequest`): the fault as stored.

    ``inject_fault(http, url, edge="register", code=133016)`` fails the next register call as Meta would."""
    async with http.post(f"{emulator_url.rstrip('/')}/_sandbox/faults", json=fault) as response:
        body = await response.json()
        if response.status != 201:
            raise AssertionError(f"the emulator refused the fault {fault}: {response.status} {body}")
        return dict(body)


async def clear_faults(http: aiohttp.ClientSession, emulator_url: str) -> None:
    async with http.delete(f"{emulator_url.rstrip('/')}/_sandbox/faults") as response:
        assert response.status == 204, await response.text()

"""What the webhook endpoint refuses, and how early: spoken to over a raw socket, so that a test can hold back
the body and show the answer came before it was sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.signature import sign
from gateway.signed_body import BUDGET
from shared.contracts.messages import WebhookReceived
from shared.messaging import wire
from shared.messaging.runtime import Infrastructure
from tests.support.broker import get_one, queue_depth

KiB = 1024
WELL_FORMED_BUT_WRONG = "sha256=" + "0" * 64
SECRET = "test-app-secret"


@dataclass
class RawConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def status(self, within_s: float = 2.0) -> int:
        """The status of the answer, which must come within ``within_s`` whatever is still unsent."""
        line = await asyncio.wait_for(self.reader.readline(), within_s)
        assert line.startswith(b"HTTP/1.1 "), line
        return int(line.split()[1])


@dataclass
class ServedGateway:
    server: TestServer

    @asynccontextmanager
    async def connect(self, headers: dict[str, str]) -> AsyncIterator[RawConnection]:
        """A POST to the webhook endpoint with these headers sent, and its body left to the test."""
        reader, writer = await asyncio.open_connection(self.server.host, self.server.port)
        lines = ["POST /webhook/whatsapp HTTP/1.1", f"Host: {self.server.host}", *map(": ".join, headers.items())]
        connection = RawConnection(reader, writer)
        await connection.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            yield connection
        finally:
            writer.close()

    async def large_bodies_reserved(self, size: int) -> None:
        """Bounded poll until the large-body budget has ``size`` bytes reserved."""
        budget = self.server.app[BUDGET].large
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2
        while budget.capacity - budget.free < size:
            assert loop.time() < deadline, "the large bodies never reserved their bytes"
            await asyncio.sleep(0.01)


Serve = Callable[..., AbstractAsyncContextManager[ServedGateway]]


@pytest.fixture
def serve(infra: Infrastructure) -> Serve:
    """``async with serve(max_body_bytes=…) as gateway:`` the gateway in process, with those settings."""

    @asynccontextmanager
    async def serving(**overrides: Any) -> AsyncIterator[ServedGateway]:
        async with TestServer(create_app(infra.settings.model_copy(update=overrides))) as server:
            yield ServedGateway(server)

    return serving


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_a_body_declared_over_the_limit_is_413_before_a_byte_of_it_is_sent(serve: Serve) -> None:
    async with serve() as gateway:
        declared = {"Content-Length": str(4 * 1024 * KiB + 1), "X-Hub-Signature-256": WELL_FORMED_BUT_WRONG}
        async with gateway.connect(declared) as connection:
            assert await connection.status() == 413


@pytest.mark.parametrize("signature", [None, "garbage", "sha256=not-hex", "sha1=" + "0" * 40])
async def test_a_webhook_without_a_well_formed_signature_is_401_before_its_body_is_sent(
    serve: Serve, signature: str | None
) -> None:
    headers = {"Content-Length": "2000"} | ({"X-Hub-Signature-256": signature} if signature else {})
    async with serve() as gateway, gateway.connect(headers) as connection:
        assert await connection.status() == 401


async def test_a_chunked_body_is_413_as_soon_as_it_crosses_the_limit(serve: Serve, infra: Infrastructure) -> None:
    async with serve(max_body_bytes=64 * KiB) as gateway:
        headers = {"Transfer-Encoding": "chunked", "X-Hub-Signature-256": WELL_FORMED_BUT_WRONG}
        async with gateway.connect(headers) as connection:
            for _ in range(5):  # 80 KiB, and the body is never terminated
                await connection.send(chunk(b"x" * 16 * KiB))
            assert await connection.status() == 413
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_a_sender_too_slow_to_finish_its_body_is_cut_off_with_408(serve: Serve) -> None:
    async with serve(webhook_read_timeout_s=0.3) as gateway:
        headers = {"Content-Length": "2000", "X-Hub-Signature-256": WELL_FORMED_BUT_WRONG}
        async with gateway.connect(headers) as connection:
            await connection.send(b"{" * 100)
            assert await connection.status() == 408


async def test_large_bodies_beyond_the_budget_wait_then_503_while_meta_s_small_webhook_goes_through(
    serve: Serve, infra: Infrastructure
) -> None:
    large = 512 * KiB
    budget = {"max_body_bytes": large, "webhook_body_budget_bytes": 2 * large, "webhook_budget_wait_s": 0.2}
    async with serve(**budget) as gateway:
        headers = {"Content-Length": str(large), "X-Hub-Signature-256": WELL_FORMED_BUT_WRONG}
        async with gateway.connect(headers) as first, gateway.connect(headers) as second:
            await first.send(b"x")  # two slow large bodies hold the whole large-body budget
            await second.send(b"x")
            await gateway.large_bodies_reserved(2 * large)
            async with gateway.connect(headers) as third:
                assert await third.status() == 503
            body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
            signed = {"Content-Length": str(len(body)), "X-Hub-Signature-256": sign(body, SECRET)}
            async with gateway.connect(signed) as meta:
                await meta.send(body)
                assert await meta.status() == 200
    message = await get_one(infra.connection, infra.names.queue("router"))
    assert message.body == body and wire.read_envelope(message, WebhookReceived).data.body.encode() == body

"""A webhook body read within a memory budget and handed over only once Meta's signature matched it.

The bound: whatever unauthenticated clients send, the webhook bodies held by this process never exceed
``webhook_body_budget_bytes + webhook_small_budget_bytes`` (36 MiB by default). Each body reserves its declared
``Content-Length`` (a chunked one: ``max_body_bytes``) from one of two pools before a byte of it is read: up to
``webhook_small_body_bytes`` from the small allowance, so Meta's usual 1-3 KB never wait behind large bodies,
anything larger from the large budget. No room within ``webhook_budget_wait_s``: 503 (Meta retries). The body is
hashed chunk by chunk as it arrives (in one call when it came with its headers, Meta's usual case) and must arrive
within ``webhook_read_timeout_s`` (408) and within ``max_body_bytes`` (413, as soon as it is known: from the header,
or when a chunked body crosses it). A missing or malformed signature header is 401 before any read. A streamed
body's chunks are joined once, after the signature matched, and the reservation lasts until the caller releases it
(after the confirmed publish): the join and the published copies of an accepted body (authenticated traffic) come on
top, a few times its size. Per open connection, aiohttp also buffers up to twice ``app.READ_BUFFER_BYTES`` (16 KiB)
before a handler reads: bound the connections at the ingress. Measured, 160 concurrent 4 MB bodies (unsigned,
wrongly signed, chunked, slow) grow the process by about 25 MiB with 18 MiB of budgets, where reading them whole
took it to 700 MiB.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import StreamReader, web

from gateway.settings import GatewaySettings
from gateway.signature import Verifier, claimed_digest, matches

CHUNK_BYTES = 64 * 1024


class Refused(Exception):
    """The body is not (or no longer) read: answer ``status`` with ``text``."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status, self.text = status, text

    @classmethod
    def unsigned(cls) -> Refused:
        return cls(401, "invalid or missing X-Hub-Signature-256")

    @classmethod
    def too_large(cls, limit: int) -> Refused:
        return cls(413, f"body over {limit} bytes")


class ByteBudget:
    """Bytes that may be held at once; a reservation waits, bounded, for room.

    With room (the usual case) a reservation takes its bytes at once, without the lock (the event loop runs one
    coroutine at a time); the lock and the wake-ups are only for bodies that found no room."""

    def __init__(self, capacity: int):
        self.capacity, self.free = capacity, capacity
        self._room = asyncio.Condition()
        self._waiting = 0

    async def take(self, size: int, wait_s: float) -> None:
        """Take ``size`` bytes, waiting up to ``wait_s`` for them (then :class:`Refused` 503); give them back with
        :meth:`give_back`."""
        if self.free >= size:
            self.free -= size
        else:
            await self._wait_for_room(size, wait_s)

    def give_back(self, size: int) -> None:
        self.free += size
        if self._waiting:
            asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self._room:
            self._room.notify_all()

    async def _wait_for_room(self, size: int, wait_s: float) -> None:
        """Wait for room and take it in the same step as the check, under the lock: a body that did not wait
        cannot take the same bytes in between (the budget never goes below zero)."""
        self._waiting += 1
        try:
            async with asyncio.timeout(wait_s), self._room:
                await self._room.wait_for(lambda: self.free >= size)
                self.free -= size
        except TimeoutError:
            raise Refused(503, "too many webhook bodies in flight, retry later") from None
        finally:
            self._waiting -= 1


@dataclass(frozen=True)
class WebhookBudget:
    small: ByteBudget
    large: ByteBudget
    small_body_bytes: int
    max_body_bytes: int

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> WebhookBudget:
        if settings.webhook_body_budget_bytes < settings.max_body_bytes:
            raise ValueError("WAMUX_WEBHOOK_BODY_BUDGET_BYTES must be at least WAMUX_MAX_BODY_BYTES")
        if settings.webhook_small_budget_bytes < settings.webhook_small_body_bytes:
            raise ValueError("WAMUX_WEBHOOK_SMALL_BUDGET_BYTES must be at least WAMUX_WEBHOOK_SMALL_BODY_BYTES")
        return cls(
            ByteBudget(settings.webhook_small_budget_bytes),
            ByteBudget(settings.webhook_body_budget_bytes),
            settings.webhook_small_body_bytes,
            settings.max_body_bytes,
        )

    def pool_for(self, content_length: int | None) -> tuple[ByteBudget, int]:
        if content_length is not None and content_length <= self.small_body_bytes:
            return self.small, content_length
        return self.large, self.max_body_bytes if content_length is None else content_length


BUDGET = web.AppKey("webhook_budget", WebhookBudget)


class SignedBody:
    """An accepted body and its reservation: :meth:`release` once the body is published (or refused)."""

    __slots__ = ("_pool", "_size", "bytes")

    def __init__(self, body: bytes, pool: ByteBudget, size: int):
        self.bytes, self._pool, self._size = body, pool, size

    def release(self) -> None:
        """Give the reservation back (once: a second call gives nothing)."""
        size, self._size = self._size, 0
        if size:
            self._pool.give_back(size)


async def signed_body(request: web.Request, settings: GatewaySettings) -> SignedBody:
    """The exact bytes of a body whose ``X-Hub-Signature-256`` matched, reserved in the budget until
    :meth:`SignedBody.release`; raises :class:`Refused` otherwise (with nothing left reserved)."""
    secret = settings.app_secret.get_secret_value()
    claimed = claimed_digest(request.headers.get("X-Hub-Signature-256")) if secret else None
    if claimed is None:
        raise Refused.unsigned()
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        raise Refused.too_large(settings.max_body_bytes)
    pool, size = request.app[BUDGET].pool_for(length)
    await pool.take(size, settings.webhook_budget_wait_s)
    try:
        content = request.content
        if content.is_eof():  # all of it arrived with the headers (Meta's usual 1-3 KB): hashed in one call
            body = content.read_nowait()
            if len(body) > settings.max_body_bytes:
                raise Refused.too_large(settings.max_body_bytes)
            if not matches(body, secret, claimed):
                raise Refused.unsigned()
        else:
            verifier = Verifier(secret, claimed)
            async with asyncio.timeout(settings.webhook_read_timeout_s):
                body = await _hashed_read(content, verifier, settings.max_body_bytes)
    except TimeoutError:
        pool.give_back(size)
        raise Refused(408, f"body not received within {settings.webhook_read_timeout_s} s") from None
    except BaseException:
        pool.give_back(size)
        raise
    return SignedBody(body, pool, size)


async def _hashed_read(content: StreamReader, verifier: Verifier, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise Refused.too_large(limit)
            verifier.update(chunk)
            chunks.append(chunk)
        if not verifier.matches():
            raise Refused.unsigned()
        return b"".join(chunks)
    finally:
        chunks.clear()  # a refused body's chunks go now, not with the traceback

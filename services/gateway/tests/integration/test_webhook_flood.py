"""A flood of unauthenticated large bodies against the real gateway process: its memory stays within the
configured budget, and Meta's webhook sent in the middle of it is still accepted quickly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.app import READ_BUFFER_BYTES
from gateway.signature import sign
from gateway.signed_body import CHUNK_BYTES
from shared.contracts.messages import WebhookReceived
from shared.messaging import wire
from shared.messaging.runtime import Infrastructure
from tests.support.broker import get_one

MiB = 1024 * 1024
BODY_BUDGET = 16 * MiB
SMALL_BUDGET = 2 * MiB
LARGE = b"x" * (4 * MiB - 4096)  # under the 4 MiB limit: it has to be read to be refused
CHUNK = 64 * 1024
WRONG = "sha256=" + "0" * 64
FAST_UNSIGNED, FAST_WRONG, CHUNKED_WRONG, SLOW_WRONG = 60, 60, 20, 20
FLOOD_BYTES = (FAST_UNSIGNED + FAST_WRONG + CHUNKED_WRONG) * len(LARGE)
# What the process may grow by: the two body budgets (twice: allocator slack), plus what aiohttp buffers per
# connection before a handler reads (twice its read buffer) and a chunk in hand.
CONNECTIONS = FAST_UNSIGNED + FAST_WRONG + CHUNKED_WRONG + SLOW_WRONG
ALLOWED_GROWTH = 2 * (BODY_BUDGET + SMALL_BUDGET) + CONNECTIONS * (2 * READ_BUFFER_BYTES + CHUNK_BYTES)


@dataclass
class Flood:
    sent: int = 0
    statuses: list[int | str] = field(default_factory=list)
    quarter_sent: asyncio.Event = field(default_factory=asyncio.Event)

    async def body(self, pause_s: float = 0.0) -> AsyncIterator[bytes]:
        for start in range(0, len(LARGE), CHUNK):
            chunk = LARGE[start : start + CHUNK]
            self.sent += len(chunk)
            if self.sent >= FLOOD_BYTES // 4:
                self.quarter_sent.set()
            yield chunk
            await asyncio.sleep(pause_s)

    async def post(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str], **options: float) -> None:
        pause_s, timeout_s = options.get("pause_s", 0.0), options.get("timeout_s", 30.0)
        try:
            async with session.post(
                url, data=self.body(pause_s), headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as answer:
                self.statuses.append(answer.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.statuses.append(type(exc).__name__)


async def sample_rss(rss_bytes: Callable[[], int], samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(rss_bytes())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


async def test_a_flood_of_unsigned_bodies_stays_within_the_budget_and_meta_still_gets_through(
    start_gateway: Any, infra: Infrastructure
) -> None:
    env = {"WAMUX_WEBHOOK_BODY_BUDGET_BYTES": str(BODY_BUDGET), "WAMUX_WEBHOOK_SMALL_BUDGET_BYTES": str(SMALL_BUDGET)}
    async with start_gateway(**env) as gateway:
        url = f"{gateway.url}/webhook/whatsapp"
        baseline = max(gateway.rss_bytes() for _ in range(3))
        flood, samples, stop = Flood(), [], asyncio.Event()
        sampler = asyncio.create_task(sample_rss(gateway.rss_bytes, samples, stop))
        length = {"Content-Length": str(len(LARGE))}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as session:
            posts = [
                *(flood.post(session, url, length) for _ in range(FAST_UNSIGNED)),
                *(flood.post(session, url, {**length, "X-Hub-Signature-256": WRONG}) for _ in range(FAST_WRONG)),
                *(flood.post(session, url, {"X-Hub-Signature-256": WRONG}) for _ in range(CHUNKED_WRONG)),
                *(
                    flood.post(session, url, {**length, "X-Hub-Signature-256": WRONG}, pause_s=0.1, timeout_s=4.0)
                    for _ in range(SLOW_WRONG)
                ),
            ]
            flooding = asyncio.gather(*posts)
            await asyncio.wait_for(flood.quarter_sent.wait(), 20)

            webhook = json.dumps({"object": "whatsapp_business_account", "entry": [], "n": time.time()}).encode()
            started = time.monotonic()
            async with (
                aiohttp.ClientSession() as meta,
                meta.post(
                    url, data=webhook, headers={"X-Hub-Signature-256": sign(webhook, "test-app-secret")}
                ) as answer,
            ):
                latency_s, status = time.monotonic() - started, answer.status
            rss_at_webhook = gateway.rss_bytes()
            await flooding
        stop.set()
        await sampler
        right_after = gateway.rss_bytes()
        after = gateway.rss_bytes()
        loop = asyncio.get_running_loop()
        settle_until = loop.time() + 3
        while loop.time() < settle_until and after > baseline + ALLOWED_GROWTH:
            await asyncio.sleep(0.1)
            after = gateway.rss_bytes()

        peak = max(samples)
        outcome = {status_: flood.statuses.count(status_) for status_ in set(flood.statuses)}
        print(  # the measurements, shown by pytest -s or on failure
            f"\nflood: baseline {baseline / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB, at webhook "
            f"{rss_at_webhook / MiB:.0f} MiB, right after {right_after / MiB:.0f} MiB, settled {after / MiB:.0f} "
            f"MiB (allowed growth {ALLOWED_GROWTH / MiB:.0f} MiB); webhook {status} in {latency_s * 1000:.0f} ms; "
            f"flood answers {outcome}"
        )
        assert status == 200 and latency_s <= 2.0
        message = await get_one(infra.connection, infra.names.queue("router"))
        assert message.body == webhook and wire.read_envelope(message, WebhookReceived).data.body.encode() == webhook
        assert peak <= baseline + ALLOWED_GROWTH
        assert after <= baseline + ALLOWED_GROWTH
        assert 200 not in flood.statuses

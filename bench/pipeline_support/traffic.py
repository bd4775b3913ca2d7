"""Open-loop traffic: webhooks posted on a fixed schedule whatever the answers, and the replies that come out at
the emulator, each timed from the moment its message was due."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp

from .webhooks import Signed


@dataclass
class Offered:
    """What the load generator did: per message, when it was due (wall clock) and the webhook's answer."""

    due_wall: dict[str, float] = field(default_factory=dict)  # wa_id → time.time() it was due
    answered_ms: list[float] = field(default_factory=list)  # due → 200, for every 200
    failures: dict[str, int] = field(default_factory=dict)  # "HTTP 503", "ClientConnectorError", …
    latest_start_s: float = 0.0  # how late the generator itself sent the latest message (its own lag)
    first_wall: float = 0.0
    last_wall: float = 0.0


async def offer(http: aiohttp.ClientSession, url: str, webhooks: list[Signed], rate: float) -> Offered:
    """POST each webhook at its due time (``i / rate`` after the start), never waiting for an answer first."""
    offered = Offered()
    loop = asyncio.get_running_loop()
    posts: set[asyncio.Task[None]] = set()

    async def post(item: Signed, due: float) -> None:
        headers = {"X-Hub-Signature-256": item.signature, "Content-Type": "application/json"}
        try:
            async with http.post(url, data=item.body, headers=headers) as answer:
                await answer.read()
                outcome = "ok" if answer.status == 200 else f"HTTP {answer.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = type(exc).__name__
        if outcome == "ok":
            offered.answered_ms.append((loop.time() - due) * 1000)
        else:
            offered.failures[outcome] = offered.failures.get(outcome, 0) + 1

    start, wall = loop.time(), time.time()
    offered.first_wall = wall
    for i, item in enumerate(webhooks):
        due = start + i / rate
        pause = due - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        offered.latest_start_s = max(offered.latest_start_s, loop.time() - due)
        offered.due_wall[item.wa_id] = wall + (due - start)
        task = asyncio.create_task(post(item, due))
        posts.add(task)
        task.add_done_callback(posts.discard)
    offered.last_wall = time.time()
    if posts:
        await asyncio.wait(posts)
    return offered


@dataclass
class ReplyWatcher:
    """Polls the emulator's outbox for new sends; a customer's first one is the reply to its message. Times come
    from the emulator's own clock (when it accepted the send), so the poll's interval adds nothing to them."""

    http: aiohttp.ClientSession
    graph_url: str
    every_s: float = 0.5
    replied_wall: dict[str, float] = field(default_factory=dict)  # wa_id → when the emulator took the reply
    _since: datetime | None = None

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.every_s)

    async def poll(self) -> None:
        params = {"since": self._since.isoformat()} if self._since else {}
        async with self.http.get(f"{self.graph_url}/_sandbox/outbox", params=params) as answer:
            entries = await answer.json()
        for entry in entries:
            moment = datetime.fromisoformat(entry["received_at"].replace("Z", "+00:00")).astimezone(UTC)
            self.replied_wall.setdefault(entry["to"], moment.timestamp())
            if self._since is None or moment > self._since:
                self._since = moment

    async def clear(self) -> None:
        """Forget what the emulator holds (its outbox is scanned whole on each poll; keep it short)."""
        async with self.http.delete(f"{self.graph_url}/_sandbox/outbox") as answer:
            answer.raise_for_status()
        self._since = None

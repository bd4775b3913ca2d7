"""The broker side of a benchmark: every wamux queue of a prefix, their depths sampled each second (a passive
declare answers with the ready count), and the messages of one queue taken away and put back unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from shared.messaging import topology, wire

from .scratch_platform import AMQP_URL


def backlog_queues(prefix: str) -> list[str]:
    """Work and retry queues: what is still to be done."""
    names = topology.Topology(prefix)
    return [
        queue
        for role in topology.ROLES
        for queue in (names.queue(role), *(names.retry_queue(role, d) for d in topology.RETRY_TIERS_S))
    ]


def dead_queues(prefix: str) -> list[str]:
    names = topology.Topology(prefix)
    return [names.dead_queue(role) for role in topology.ROLES]


async def depths(channel: AbstractChannel, queues: list[str]) -> dict[str, int]:
    out = {}
    for name in queues:
        declared = await channel.declare_queue(name, passive=True)
        out[name] = int(declared.declaration_result.message_count or 0)
    return out


@dataclass
class Sample:
    at: float  # time.monotonic()
    depths: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.depths.values())


@dataclass
class DepthSampler:
    """Every backlog queue's depth, once per ``every_s``, from :meth:`run` until :meth:`stop` (never cancelled
    mid-call: aiormq closes a channel whose call was cancelled)."""

    connection: AbstractConnection
    queues: list[str]
    every_s: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        async with self.connection.channel() as channel:
            while not self._stopped.is_set():
                started = time.monotonic()
                self.samples.append(Sample(started, await depths(channel, self.queues)))
                with contextlib.suppress(TimeoutError):
                    pause = max(0.0, self.every_s - (time.monotonic() - started))
                    await asyncio.wait_for(self._stopped.wait(), pause)

    def stop(self) -> None:
        self._stopped.set()

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time in [start, end] without a sample (each sample taken at ``at``)."""
        moments = [start, *(s.at for s in self.between(start, end)), end]
        return max(b - a for a, b in itertools.pairwise(moments))


@asynccontextmanager
async def connection() -> AsyncIterator[AbstractConnection]:
    """A plain connection: a robust one's channel answers a passive declare with the queue it cached (the first
    count it saw, forever), and a benchmark had better fail than reconnect unseen."""
    conn = await aio_pika.connect(AMQP_URL)
    try:
        yield conn
    finally:
        await conn.close()


async def delete_topology(conn: AbstractConnection, prefix: str) -> None:
    async with conn.channel() as channel:
        await topology.delete(channel, topology.Topology(prefix))


@dataclass(frozen=True)
class Captured:
    """One delivery's body and properties, enough to publish the same message again."""

    body: bytes
    properties: dict[str, object]

    @property
    def type(self) -> str | None:
        value = self.properties.get("type")
        return str(value) if value is not None else None

    @property
    def envelopes(self) -> int:
        """How many envelopes it carries: a lines group's or a group of webhooks' count (shared.messaging.wire), else
        one."""
        headers = self.properties.get("headers")
        headers = headers if isinstance(headers, dict) else {}
        if (count := headers.get(wire.PARTS_HEADER)) is not None and isinstance(count, int):
            return count
        sizes = headers.get(wire.PART_BYTES_HEADER)
        return len(sizes) if isinstance(sizes, list) else 1


def _properties(message: AbstractIncomingMessage) -> dict[str, object]:
    return {
        "headers": dict(message.headers or {}),
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
        "delivery_mode": aio_pika.DeliveryMode.PERSISTENT,
        "priority": message.priority,
        "correlation_id": message.correlation_id,
        "message_id": message.message_id,
        "timestamp": message.timestamp,
        "type": message.type,
        "app_id": message.app_id,
    }


async def take_all(conn: AbstractConnection, queue_name: str, idle_s: float = 1.0) -> list[Captured]:
    """Every message of ``queue_name``, acked (the queue is left empty): consumed until ``idle_s`` passes with
    nothing new."""
    taken: list[Captured] = []
    async with conn.channel() as channel:
        await channel.set_qos(prefetch_count=500)
        queue = await channel.get_queue(queue_name, ensure=False)
        last = time.monotonic()

        async def keep(message: AbstractIncomingMessage) -> None:
            nonlocal last
            taken.append(Captured(message.body, _properties(message)))
            last = time.monotonic()
            await message.ack()

        tag = await queue.consume(keep)
        while time.monotonic() - last < idle_s:
            await asyncio.sleep(0.1)
        await queue.cancel(tag)
    return taken


async def put_back(conn: AbstractConnection, prefix: str, queue_name: str, messages: list[Captured]) -> None:
    """Declare ``prefix``'s topology and publish ``messages`` straight to ``queue_name``, confirmed, in order."""
    async with conn.channel() as channel:
        await topology.declare(channel, topology.Topology(prefix))
        for start in range(0, len(messages), 200):
            batch = messages[start : start + 200]
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(m.body, **m.properties),  # type: ignore[arg-type]
                        routing_key=queue_name,
                    )
                    for m in batch
                )
            )

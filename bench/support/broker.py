"""The broker as a benchmark sees it: how many messages a queue holds (durable means counted), purging, cleanup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
from aio_pika.abc import AbstractChannel

from shared.messaging import topology, wire

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
# A broker that does not answer must fail the benchmark, not hang it (aio_pika waits for ever without one).
TIMEOUT_S = 15.0


class BrokerUnavailable(Exception):
    pass


@asynccontextmanager
async def channel_to(amqp_url: str = AMQP_URL) -> AsyncIterator[AbstractChannel]:
    try:
        connection = await aio_pika.connect(amqp_url, timeout=TIMEOUT_S)
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
        raise BrokerUnavailable(f"RabbitMQ at 127.0.0.1:5672 did not answer within {TIMEOUT_S:.0f} s: {exc!r}") from exc
    async with connection, connection.channel() as channel:
        yield channel


async def queue_depth(queue: str, amqp_url: str = AMQP_URL) -> int:
    async with channel_to(amqp_url) as channel:
        declared = await channel.declare_queue(queue, passive=True, timeout=TIMEOUT_S)
        return int(declared.declaration_result.message_count or 0)


async def webhooks_held(queue: str, amqp_url: str = AMQP_URL) -> int:
    """The webhooks a queue of the gateway's publishes holds, counted one by one: the messages are taken off it
    (acked) and each counts the webhooks it carries (several in a group commit's message: shared.messaging.wire)."""
    async with channel_to(amqp_url) as channel:
        declared = await channel.declare_queue(queue, passive=True, timeout=TIMEOUT_S)
        left = int(declared.declaration_result.message_count or 0)
        await channel.set_qos(prefetch_count=1000)
        held = 0
        async with declared.iterator(timeout=TIMEOUT_S) as messages:
            async for message in messages:
                held += len(wire.parts(message))
                await message.ack()
                left -= 1
                if left == 0:
                    break
        return held


async def purge(queue: str, amqp_url: str = AMQP_URL) -> None:
    async with channel_to(amqp_url) as channel:
        declared = await channel.declare_queue(queue, passive=True, timeout=TIMEOUT_S)
        await declared.purge()


async def queue_depths(prefix: str, amqp_url: str = AMQP_URL) -> dict[str, int]:
    """Every work queue of the topology under ``prefix`` and what it holds (the backlog of each consumer)."""
    names = topology.Topology(prefix)
    async with channel_to(amqp_url) as channel:
        depths = {}
        for role in topology.ROLES:
            declared = await channel.declare_queue(names.queue(role), passive=True)
            depths[role] = int(declared.declaration_result.message_count or 0)
        return depths


async def delete_topology(prefix: str, amqp_url: str = AMQP_URL) -> None:
    async with channel_to(amqp_url) as channel:
        await topology.delete(channel, topology.Topology(prefix))

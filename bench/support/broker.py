"""The broker as a benchmark sees it: how many messages a queue holds (durable means counted), purging, cleanup."""

from __future__ import annotations

import aio_pika

from shared.messaging import topology

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


async def queue_depth(queue: str, amqp_url: str = AMQP_URL) -> int:
    async with await aio_pika.connect(amqp_url) as connection, connection.channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


async def purge(queue: str, amqp_url: str = AMQP_URL) -> None:
    async with await aio_pika.connect(amqp_url) as connection, connection.channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
        await declared.purge()


async def queue_depths(prefix: str, amqp_url: str = AMQP_URL) -> dict[str, int]:
    """Every work queue of the topology under ``prefix`` and what it holds (the backlog of each consumer)."""
    names = topology.Topology(prefix)
    async with await aio_pika.connect(amqp_url) as connection, connection.channel() as channel:
        depths = {}
        for role in topology.ROLES:
            declared = await channel.declare_queue(names.queue(role), passive=True)
            depths[role] = int(declared.declaration_result.message_count or 0)
        return depths


async def delete_topology(prefix: str, amqp_url: str = AMQP_URL) -> None:
    async with await aio_pika.connect(amqp_url) as connection, connection.channel() as channel:
        await topology.delete(channel, topology.Topology(prefix))

"""The dead-letter queues, for an operator: look, replay to the work queue, or purge (CLI in ``__main__``).

Order: what is looked at but left in place (``list``, ``--dry-run``, ids not selected) keeps its place. A quorum
queue serves the messages it got back (redelivered) before the others, in the order they came back; the tool holds
what it takes unacked on one channel, takes the rest of that returned part too, and closes the channel, which gives
them all back at the head in their original order (checked on RabbitMQ 3.10, with and without a delivery limit).
It never uses ``basic.nack(requeue)``: that sends a message to the back of a quorum queue without a delivery limit,
such as ``{p}.<role>.dead``. Each look adds one to a message's ``x-delivery-count`` (shown as ``deliveries``):
harmless on 3.x, where the dead queues have no delivery limit, but RabbitMQ 4 gives quorum queues a default limit
of 20, after which a dead letter with no DLX of its own is dropped. Run one command at a time per queue.
A replayed message is published (persistent, confirmed) before its dead copy is acked, so a crash in between
leaves a duplicate, which consumers recognise by the envelope id, rather than losing the message.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import ChannelNotFoundEntity

from shared.messaging.broker import Publisher, PublishFailed
from shared.messaging.deadletters.reading import DeadLetter, describe, revived
from shared.messaging.topology import ROLES, Topology


class UnknownRole(ValueError):
    def __init__(self, role: str):
        super().__init__(f"unknown role {role!r}: one of {', '.join(ROLES)}")


class QueueMissing(LookupError):
    def __init__(self, name: str):
        super().__init__(f"queue {name!r} does not exist: is WAMUX_BROKER_PREFIX the prefix the services use?")


@dataclass(frozen=True)
class DeadQueue:
    role: str
    queue: str
    depth: int
    messages: list[DeadLetter]


@dataclass
class Replay:
    source: str
    target: str
    dry_run: bool
    replayed: list[DeadLetter] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    failure: str | None = None  # the publish that failed; its dead copy is still in the dead queue


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UnknownRole(role)
    return role


async def peek(
    connection: AbstractConnection, names: Topology, roles: Sequence[str] = (), limit: int = 10
) -> list[DeadQueue]:
    """The depth and first ``limit`` messages of each role's dead-letter queue, left where they were."""
    result = []
    for role in [check_role(r) for r in roles] or list(ROLES):
        async with connection.channel() as channel:  # closing it returns what we took, in order
            queue, depth = await _open(channel, names.dead_queue(role))
            letters, last = [], None
            for _ in range(min(limit, depth)):
                if (message := await queue.get(no_ack=False, fail=False)) is None:
                    break
                letters.append(describe(message))
                last = message
            await _take_returned_rest(queue, last, depth)
        await _until_back(connection, names.dead_queue(role), depth)
        result.append(DeadQueue(role, names.dead_queue(role), depth, letters))
    return result


async def replay(
    connection: AbstractConnection,
    names: Topology,
    role: str,
    *,
    ids: Collection[uuid.UUID] | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    publish_timeout_s: float = 5.0,
) -> Replay:
    """Move dead letters (those with ``ids``, or all) back to the role's work queue, oldest first."""
    wanted = {str(i) for i in ids} if ids is not None else None
    report = Replay(names.dead_queue(check_role(role)), names.queue(role), dry_run)
    async with (
        connection.channel() as source,
        connection.channel(publisher_confirms=True, on_return_raises=True) as target,
    ):
        queue, depth = await _open(source, report.source)
        publisher = Publisher(target, names, publish_timeout_s)
        default_exchange = await publisher.exchange("")
        last = None
        for _ in range(depth):  # what arrives meanwhile waits for the next run
            if (limit is not None and len(report.replayed) >= limit) or wanted == set():
                break
            if (message := await queue.get(no_ack=False, fail=False)) is None:
                break
            last, letter = message, describe(message)
            if wanted is not None:
                if letter.envelope_id not in wanted:
                    continue  # held unacked until the channel closes, then back in its place
                wanted.discard(letter.envelope_id)
            if not dry_run:
                try:
                    await publisher.publish_raw(default_exchange, report.target, revived(message))
                except PublishFailed as exc:
                    report.failure = f"{letter.envelope_id}: {exc}"
                    break
                await message.ack()
            report.replayed.append(letter)
        await _take_returned_rest(queue, last, depth)
    await _until_back(connection, report.source, depth - (0 if dry_run else len(report.replayed)))
    report.not_found = sorted(wanted or ())
    return report


async def purge(connection: AbstractConnection, names: Topology, role: str) -> int:
    """Drop what waits in the role's dead-letter queue; returns how many messages went."""
    async with connection.channel() as channel:
        queue, _ = await _open(channel, names.dead_queue(check_role(role)))
        purged = await queue.purge()
        return int(purged.message_count or 0)


async def _take_returned_rest(queue: AbstractQueue, last: AbstractIncomingMessage | None, bound: int) -> None:
    """Also take the rest of the returned part: left behind, it would be served ahead of what we give back."""
    for _ in range(bound):
        if last is None or not last.redelivered:
            return
        last = await queue.get(no_ack=False, fail=False)


async def _until_back(connection: AbstractConnection, name: str, depth: int, timeout_s: float = 5.0) -> None:
    """RabbitMQ gives back a closed channel's messages a moment after the close: wait (bounded) until they are in
    the queue again, so that the next command finds them where they were."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with connection.channel() as channel:
        while loop.time() < deadline:
            if await _depth(channel, name) >= depth:
                return
            await asyncio.sleep(0.02)


async def _open(channel: AbstractChannel, name: str) -> tuple[AbstractQueue, int]:
    depth = await _depth(channel, name)
    return await channel.get_queue(name, ensure=False), depth


async def _depth(channel: AbstractChannel, name: str) -> int:
    # Asked of the broker every time: a robust channel answers a repeated passive declare from its cache.
    try:
        declared = await (await channel.get_underlay_channel()).queue_declare(name, passive=True)
    except ChannelNotFoundEntity as exc:
        raise QueueMissing(name) from exc
    return int(declared.message_count or 0)

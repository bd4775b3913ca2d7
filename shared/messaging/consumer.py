"""The one consumer wrapper: the ack policy of every service lives here.

A handler is ``async def verb(envelope, deps) -> None``. It commits its own transaction and returns; only then
is the message acked. It never acks itself; it raises instead:

- :class:`Retry` — try again after a delay (via the role's TTL'd retry queue, never a sleep here);
- :class:`Reject` — the message can never succeed: it goes to the role's dead-letter queue with the reason;
- anything else — an outage or a bug: retried with growing delays, dead-lettered after ``max_attempts``.

A message that is not an envelope, has no route on this queue, or whose payload fails validation is dead-lettered
at once — unless the service gave an ``unreadable`` handler (the directory answers such a command with
``command.rejected``): then that handler runs under the same policy, and the message is acked once it returns.
With :class:`~shared.messaging.batch.Batching` the consumer takes what the broker has delivered (up to the batch
size) at once: the deliveries whose route gives a ``batch_effect`` are carried out in one transaction with one round
of confirmed publishes (:mod:`shared.messaging.batch`) and acked after its commit, with one ``basic.ack`` for the
batch (:func:`ack_together`); an effect that raised gets its own
verdict under the same policy, never its neighbours; a batch that fails as a whole is redone one delivery at a time.
A route that gives ``many`` — ``async def verbs(envelopes, deps) -> outcomes`` — is handed all of its deliveries
of a batch at once and says how each went (``None``: done, acked with the batch; an exception: that delivery's
verdict alone); a ``many`` that raises has its deliveries handled one at a time by the route's handler.
Other routes and unreadable deliveries are handled as above. Batches run one after another, in arrival order,
unless :attr:`~shared.messaging.batch.Batching.overlapping` lets several run at once (:class:`Acks`: one
``basic.ack`` for the settled run at a channel's head, a delivery that ends behind a slower batch acked alone).
A group of webhooks (the gateway's group commit) is one delivery per webhook, each with its own verdict, the group
acked once all are settled (:mod:`shared.messaging.groups`).
Over 150 lines: the whole ack policy stays in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from pydantic import ValidationError

from shared.contracts.envelope import Envelope, EnvelopeHeader, Payload
from shared.logging import bind_context, get_logger
from shared.messaging import batch, groups, topology, wire
from shared.messaging.broker import Publisher, PublishFailed, persistent_copy

log = get_logger(__name__)
D = TypeVar("D")
T = TypeVar("T")
ATTEMPT_HEADER = "x-wamux-attempt"
ERROR_HEADER = "x-wamux-error"
DEAD_AT_HEADER = "x-wamux-dead-at"


class Retry(Exception):
    """Try again later: after ``delay_s`` (rounded up to a retry tier), or with growing delays when ``None``.

    ``counts=False`` is for waits that are scheduling, not failure (a rate limit's turn): they never bring the
    message closer to the dead-letter queue, however busy the number.
    """

    def __init__(self, reason: str, delay_s: float | None = None, *, counts: bool = True):
        super().__init__(reason)
        self.delay_s = delay_s
        self.counts = counts


class Reject(Exception):
    """The message is wrong, not the moment: retrying cannot help."""


# Several deliveries' envelopes handled at once: each one's outcome, in their order (None: done).
ManyHandler = Callable[[list[Any], D], Awaitable[list[Exception | None]]]


async def outcome_of(work: Awaitable[T]) -> T | Exception:
    """One delivery's part of a ``many`` handler: what ``work`` returns, or the exception it raised (that
    delivery's verdict), so that one failure stops none of its neighbours."""
    try:
        return await work
    except Exception as exc:
        return exc


@dataclass(frozen=True)
class Route(Generic[D]):
    """The payload model of a message type and its handler; a ``batch_effect`` lets a batching consumer carry it
    out beside other deliveries in one transaction (:mod:`shared.messaging.batch`), ``many`` hands it a batch's
    deliveries of the route at once."""

    model: type[Payload]
    handler: Callable[[Any, D], Awaitable[None]]
    batch_effect: batch.BatchEffect[D] | None = None
    many: ManyHandler[D] | None = None


@dataclass(frozen=True)
class Unreadable:
    """A delivery the routes cannot take, as an ``unreadable`` handler receives it."""

    body: bytes
    reason: Literal["not_an_envelope", "no_route", "invalid"]
    header: EnvelopeHeader | None  # None when the body is not even an envelope
    errors: tuple[str, ...]  # pydantic's errors in plain words: "data.name: Field required"


def _about(header: Envelope[Any] | EnvelopeHeader) -> AbstractContextManager[None]:
    """Log lines about a delivery carry its correlation id, tenant and type."""
    return bind_context(correlation_id=header.correlation_id, tenant_id=header.tenant_id, message_type=header.type)


def plain_errors(exc: ValidationError) -> tuple[str, ...]:
    return tuple(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


class Consumer(Generic[D]):
    def __init__(
        self,
        role: str,
        routes: Mapping[str, Route[D]],
        deps: D,
        publisher: Publisher,
        names: topology.Topology,
        max_attempts: int = 8,
        unreadable: Callable[[Unreadable, D], Awaitable[None]] | None = None,
        batching: batch.Batching | None = None,
    ):
        self.role, self.routes, self.deps, self._unreadable = role, routes, deps, unreadable
        self._publisher, self._names, self._max_attempts = publisher, names, max_attempts
        self._batching = batching
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._deliveries = batch.Deliveries()
        self._batches: asyncio.Task[None] | None = None
        self._overlapping: set[asyncio.Task[None]] = set()  # batches under way beside each other
        self._acks = Acks()  # theirs

    async def start(self, connection: AbstractRobustConnection, prefetch: int) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        # Declared (idempotently, same arguments) rather than looked up: a robust channel restores the queues it
        # declared, and their consumers, after the broker comes back; a queue merely looked up it forgets.
        self._queue = await channel.declare_queue(
            self._names.queue(self.role), durable=True, arguments=topology.work_queue_arguments(self._names, self.role)
        )
        if self._batching is not None and self._batches is None:
            self._batches = asyncio.create_task(self._run_batches(self._batching), name=f"{self.role}-batches")
        self._tag = await self._queue.consume(self.on_message)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def stop(self, grace_s: float = 30.0) -> None:
        """Stop taking messages, let those in hand finish (unfinished ones are redelivered)."""
        if self._queue is not None and self._tag is not None:
            await self._queue.cancel(self._tag)
        try:
            await asyncio.wait_for(self._idle.wait(), grace_s)
        except TimeoutError:
            log.warning("consumer.stop_timeout", in_flight=self._in_flight)
        if self._batching is not None:
            await self._batching.flushes.drain()  # committed events published now rather than by the relay later
        # The batches' loop first: an overlapping batch cancelled frees a place it would fill with a new batch.
        for task in (*([self._batches] if self._batches is not None else []), *self._overlapping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._batches = None

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        deliveries = groups.split(message)  # a group of webhooks: one delivery each, acked together
        self._in_flight += len(deliveries)
        self._idle.clear()
        if self._batching is not None:
            for delivery in deliveries:
                if self._batching.overlapping > 1:
                    self._acks.arrived(delivery)
                self._deliveries.put(delivery)  # settled by the batch it joins
            return
        try:
            for delivery in deliveries:
                await self._handle(delivery)
        finally:
            self._settled(len(deliveries))

    def _settled(self, count: int) -> None:
        self._in_flight -= count
        if self._in_flight == 0:
            self._idle.set()

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        read = await self._read(message)
        if read is not None:
            route, envelope = read
            await self._run_about(message, envelope, route.handler(envelope, self.deps))

    async def _read(self, message: AbstractIncomingMessage) -> tuple[Route[D], Envelope[Any]] | None:
        """The delivery's route and envelope; ``None`` once a delivery that cannot be read has been dealt with."""
        try:
            header = wire.read_header(message)
        except ValidationError as exc:
            unreadable = Unreadable(message.body, "not_an_envelope", None, plain_errors(exc))
            await self._cannot_read(message, unreadable, f"not a wamux envelope: {exc.errors()[0]['msg']}")
            return None
        route = self.routes.get(header.type)
        if route is None:
            unreadable = Unreadable(message.body, "no_route", header, ())
            await self._cannot_read(message, unreadable, f"no handler for {header.type!r} on {self.role}")
            return None
        try:
            return route, wire.read_envelope(message, route.model)
        except ValidationError as exc:
            unreadable = Unreadable(message.body, "invalid", header, plain_errors(exc))
            with _about(header):
                await self._cannot_read(message, unreadable, f"invalid {header.type}: {exc}")
            return None

    async def _run_batches(self, batching: batch.Batching) -> None:
        if batching.overlapping > 1:
            return await self._run_overlapping(batching)
        while True:
            messages = await self._deliveries.take(batching.max_size)
            await self._batch_settled(messages, batching, ack_together)

    async def _run_overlapping(self, batching: batch.Batching) -> None:
        """Up to ``overlapping`` batches at once: the next one is taken as soon as a place is free, so a batch
        holds what arrived while the others ran. A batch may end before an older one: :class:`Acks` acks what is
        done once everything before it is settled."""
        places = asyncio.Semaphore(batching.overlapping)
        while True:
            await places.acquire()
            messages = await self._deliveries.take(batching.max_size)

            async def ack(done: list[AbstractIncomingMessage], batch: list[AbstractIncomingMessage] = messages) -> None:
                await self._acks.settled(batch, done)

            task = asyncio.create_task(self._batch_settled(messages, batching, ack))
            self._overlapping.add(task)

            def place_freed(done: asyncio.Task[None]) -> None:
                self._overlapping.discard(done)
                places.release()

            task.add_done_callback(place_freed)

    async def _batch_settled(
        self,
        messages: list[AbstractIncomingMessage],
        batching: batch.Batching,
        ack: Callable[[list[AbstractIncomingMessage]], Awaitable[None]],
    ) -> None:
        try:
            await ack(await self._handle_batch(messages, batching))
        except Exception:  # a settling that failed (a closed channel): those deliveries come back anyway
            log.exception("batch.settle_failed", deliveries=len(messages))
            if batching.overlapping > 1:
                await self._acks.abandoned(messages)
        finally:
            self._settled(len(messages))

    async def _handle_batch(
        self, messages: list[AbstractIncomingMessage], batching: batch.Batching
    ) -> list[AbstractIncomingMessage]:
        """Every delivery settled but for the acks of those done: returned, for one ack together."""
        items: list[batch.Item] = []
        alone: list[Awaitable[None]] = []
        together: dict[ManyHandler[D], list[tuple[AbstractIncomingMessage, Route[D], Envelope[Any]]]] = {}
        for message in messages:
            read = await self._read(message)
            if read is None:
                continue
            route, envelope = read
            if route.batch_effect is not None:
                items.append(batch.Item(message, envelope, route.batch_effect))
            elif route.many is not None:
                together.setdefault(route.many, []).append((message, route, envelope))
            else:
                alone.append(self._run_about(message, envelope, route.handler(envelope, self.deps)))
        carried, handled, _ = await asyncio.gather(
            self._carry_out(items, batching),
            asyncio.gather(*(self._handle_many(many, deliveries) for many, deliveries in together.items())),
            asyncio.gather(*alone),
        )
        return [*carried, *(message for done in handled for message in done)]

    async def _handle_many(
        self, many: ManyHandler[D], deliveries: list[tuple[AbstractIncomingMessage, Route[D], Envelope[Any]]]
    ) -> list[AbstractIncomingMessage]:
        """``many``'s deliveries at once; each that failed gets its verdict here. Returns those done, still to ack."""
        try:
            outcomes = await many([envelope for _, _, envelope in deliveries], self.deps)
            if len(outcomes) != len(deliveries):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(deliveries)} deliveries")
        except Exception as exc:
            log.warning("batch.failed", deliveries=len(deliveries), reason=f"{type(exc).__name__}: {exc}"[:500])
            for message, route, envelope in deliveries:  # one at a time, in arrival order: each its own verdict
                await self._run_about(message, envelope, route.handler(envelope, self.deps))
            return []
        done: list[AbstractIncomingMessage] = []
        for (message, _, envelope), outcome in zip(deliveries, outcomes, strict=True):
            if outcome is None:
                done.append(message)
            else:
                with _about(envelope):
                    await self._verdict(message, outcome, str(envelope.id))
        return done

    async def _carry_out(self, items: list[batch.Item], batching: batch.Batching) -> list[AbstractIncomingMessage]:
        """Carry the items out; every one that failed gets its verdict here. Returns those committed, still to ack."""
        if not items:
            return []
        try:
            await batch.carry_out(items, self.deps, batching, self._publisher)
        except batch.BatchFailed as exc:
            log.warning("batch.failed", deliveries=len(items), reason=str(exc)[:500])
            await batching.flushes.drain()  # the earlier batches' events leave first
            for item in items:  # one at a time, in arrival order: each gets its own verdict
                alone = batch.carry_out_alone(item, self.deps, batching, self._publisher)
                await self._run_about(item.message, item.envelope, alone)
            return []
        for item in items:
            if item.failure is not None:
                with _about(item.envelope):
                    await self._verdict(item.message, item.failure, str(item.envelope.id))
        return [item.message for item in items if item.failure is None]

    async def _run_about(
        self, message: AbstractIncomingMessage, envelope: Envelope[Any], handling: Awaitable[None]
    ) -> None:
        with _about(envelope):
            await self._run(message, handling, str(envelope.id))

    async def _cannot_read(self, message: AbstractIncomingMessage, unreadable: Unreadable, reason: str) -> None:
        if self._unreadable is None:
            return await self._dead_letter(message, reason)
        log.warning("message.unreadable", reason=reason[:500], queue=self.role)
        message_id = str(unreadable.header.id) if unreadable.header is not None else ""
        await self._run(message, self._unreadable(unreadable, self.deps), message_id)

    async def _run(self, message: AbstractIncomingMessage, handling: Awaitable[None], message_id: str) -> None:
        """The ack policy around one handler's work."""
        try:
            await handling
        except Exception as exc:
            await self._verdict(message, exc, message_id)
        else:
            await message.ack()

    async def _verdict(self, message: AbstractIncomingMessage, exc: Exception, message_id: str) -> None:
        if isinstance(exc, Retry):
            await self._retry(message, str(exc), exc.delay_s, counts=exc.counts)
        elif isinstance(exc, Reject):
            await self._dead_letter(message, str(exc))
        else:
            log.error("handler.failed", message_id=message_id, exc_info=exc)
            await self._retry(message, f"{type(exc).__name__}: {exc}", None)

    async def _retry(
        self, message: AbstractIncomingMessage, reason: str, delay_s: float | None, *, counts: bool = True
    ) -> None:
        previous = (message.headers or {}).get(ATTEMPT_HEADER, 0)
        attempt = (previous if isinstance(previous, int) else 0) + (1 if counts else 0)
        if counts and attempt >= self._max_attempts:
            return await self._dead_letter(message, f"gave up after {attempt} attempts: {reason}")
        tiers = topology.RETRY_TIERS_S
        tier = topology.retry_tier(delay_s) if delay_s is not None else tiers[min(max(attempt, 1) - 1, len(tiers) - 1)]
        log.info("message.retry", attempt=attempt, delay_s=tier, reason=reason)
        await self._republish(message, "", self._names.retry_queue(self.role, tier), {ATTEMPT_HEADER: attempt})

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        log.error("message.dead_lettered", reason=reason[:500], queue=self.role)
        exchange = self._names.dlx
        headers = {ERROR_HEADER: reason[:2000], DEAD_AT_HEADER: datetime.now(UTC).isoformat()}
        await self._republish(message, exchange, self._names.queue(self.role), headers)

    async def _republish(
        self, message: AbstractIncomingMessage, exchange: str, routing_key: str, headers: dict[str, Any]
    ) -> None:
        copy = persistent_copy(message, {**(message.headers or {}), **headers})
        try:
            target = await self._publisher.exchange(exchange)
            await self._publisher.publish_raw(target, routing_key, copy)
        except PublishFailed:
            # Not safely parked elsewhere: leave it to the broker (redelivery, then its delivery limit).
            log.warning("message.republish_failed", routing_key=routing_key)
            await message.nack(requeue=True)
            return
        await message.ack()


class Acks:
    """The acks of batches that overlap: one ``basic.ack`` (``multiple``) for the longest run of settled deliveries
    at the head of a channel, naming the highest done delivery of it; a done delivery behind one still under way
    (a slower batch's) is acked alone, at once, so a slow model holds up no other batch's acks.

    A delivery is open from its arrival (:meth:`arrived`, in delivery-tag order, as a channel hands them over)
    until its batch is over (:meth:`settled`): then each of the batch's deliveries is done (to ack) or was given its
    verdict already (a retry's or a dead letter's republish and its own ack). ``multiple`` acks every delivery of
    the channel not yet acked up to the tag it names: safe once none below it is open, and those given a verdict
    or acked alone are acked already. The channel is the one a delivery arrived on, kept then (a closed channel
    cannot be asked for). A batch that failed as a whole (:meth:`abandoned`) hands its deliveries back to the broker.
    A group (:mod:`shared.messaging.groups`) is one delivery to the broker: open under its own tag from its first
    envelope's arrival until every envelope of it is settled, in whichever batches they were (the group acks or
    sends itself back then, alone), so no ``multiple`` covers it before."""

    def __init__(self) -> None:
        # Per channel, in tag order: each delivery open (None), done and still to ack (True), or settled (False).
        self._heads: dict[int, dict[int, bool | None]] = {}
        self._messages: dict[int, dict[int, AbstractIncomingMessage]] = {}
        self._where: dict[int, tuple[int, int]] = {}  # id(delivery) → (its channel, its tag)

    def arrived(self, message: AbstractIncomingMessage) -> None:
        if isinstance(message, groups.PartDelivery):
            message = message.group  # its first envelope opens it; the others find it open
            if id(message) in self._where:
                return
        if message.delivery_tag is None:
            return
        channel, tag = id(message.channel), message.delivery_tag
        self._heads.setdefault(channel, {})[tag] = None
        self._messages.setdefault(channel, {})[tag] = message
        self._where[id(message)] = (channel, tag)

    async def settled(self, batch: list[AbstractIncomingMessage], done: list[AbstractIncomingMessage]) -> None:
        to_ack = {id(m) for m in done}
        touched: set[int] = set()
        for message in batch:
            if isinstance(message, groups.PartDelivery):
                continue
            where = self._where.pop(id(message), None)
            if where is not None and where[0] in self._heads:
                channel, tag = where
                self._heads[channel][tag] = id(message) in to_ack
                touched.add(channel)
        for part in (m for m in batch if isinstance(m, groups.PartDelivery)):
            if id(part) in to_ack:
                try:
                    await part.ack()  # the group's own ack, once it is its last envelope
                except Exception:
                    log.warning("batch.ack_failed", reason="channel closed")
            touched.update(self._group_over(part))
        for channel in touched:
            try:
                await self._settle_head(channel, to_ack)
            except Exception:  # its channel closed: what it held comes back with the next one, whatever the others
                log.warning("batch.ack_failed", reason="channel closed")
                self._forget(channel)

    def _group_over(self, part: groups.PartDelivery) -> list[int]:
        """The group of ``part``, finished (acked or sent back alone): settled in its channel's head."""
        if not part.group_finished:
            return []
        where = self._where.pop(id(part.group), None)
        if where is None or where[0] not in self._heads:
            return []
        channel, tag = where
        self._heads[channel][tag] = False
        return [channel]

    async def _settle_head(self, channel: int, to_ack: set[int]) -> None:
        """Ack the settled run at the channel's head, then, alone, what of ``to_ack`` is left behind an open
        delivery. Those stay open in the head until their own acks are sent: a run another batch acks meanwhile
        stops before them, so no ``multiple`` covers a delivery whose own ack is still on its way (RabbitMQ closes
        the channel on an ack of a tag it no longer knows)."""
        behind = await self._ack_head(channel, to_ack)
        for tag, message in behind:
            try:
                await message.ack()
            finally:
                if tag in self._heads.get(channel, {}):
                    self._heads[channel][tag] = False
        if behind and channel in self._heads:
            await self._ack_head(channel, set())  # the run they held may be over now

    async def abandoned(self, batch: list[AbstractIncomingMessage]) -> None:
        """A batch whose settling failed (a closed channel, a bug): what it left open goes back to the broker, on a
        channel still open (``nack``, requeued: aio-pika refuses it for a delivery already settled), or comes back
        by itself with a closed one, whose head is forgotten."""
        for message in batch:
            if isinstance(message, groups.PartDelivery):
                with contextlib.suppress(Exception):  # the whole group back (once), unless it is over already
                    if not message.group_finished:
                        await message.nack(requeue=True)
                self._group_over(message)
                continue
            where = self._where.pop(id(message), None)
            if where is None:
                continue
            channel, tag = where
            try:
                await message.nack(requeue=True)
            except Exception:  # settled already (a verdict), or its channel is gone: nothing of it to do here
                log.debug("batch.abandoned_delivery", delivery_tag=tag)
            if channel in self._heads:
                self._heads[channel][tag] = False
        for channel in list(self._heads):
            try:
                await self._settle_head(channel, set())
            except Exception:  # its channel is closed: what it held comes back with the next one
                self._forget(channel)

    async def _ack_head(self, channel: int, acked_alone: set[int]) -> list[tuple[int, AbstractIncomingMessage]]:
        """Ack the settled run at the channel's head; returns the done deliveries of ``acked_alone`` (ids) left
        behind an open one, open again until the caller has acked them alone."""
        head, messages = self._heads[channel], self._messages[channel]
        highest: AbstractIncomingMessage | None = None
        while head:
            tag = next(iter(head))
            state = head[tag]
            if state is None:
                break  # an older delivery still under way
            del head[tag]
            message = messages.pop(tag)
            if state:
                highest = message
        behind = [(tag, m) for tag, m in messages.items() if head.get(tag) and id(m) in acked_alone]
        for tag, _ in behind:
            head[tag] = None
        if not head:
            self._forget(channel)  # a channel's next deliveries start a new head
        if highest is not None:
            await highest.ack(multiple=True)
        return behind

    def _forget(self, channel: int) -> None:
        for message in self._messages.pop(channel, {}).values():
            self._where.pop(id(message), None)
        self._heads.pop(channel, None)


async def ack_together(messages: list[AbstractIncomingMessage]) -> None:
    """Ack a batch's committed deliveries with one ``basic.ack`` per channel (``multiple``: every delivery up to the
    highest tag), once everything else of the batch is settled.

    Safe because a batching consumer settles every delivery in arrival (delivery-tag) order, batch after batch:
    when a batch ends, each delivery of its channel with a lower tag is settled already — carried out here, given
    its verdict (a retry's or a dead letter's republish, then its own ack), or handled before the batch. A webhook
    of a group is settled through its group (:mod:`shared.messaging.groups`), which acks the group once all its
    webhooks are: those go first, so a group below the highest tag is settled before the ``multiple`` covers it.
    """
    highest: dict[int, AbstractIncomingMessage] = {}
    for message in messages:
        tag = None if isinstance(message, groups.PartDelivery) else message.delivery_tag
        if tag is None:
            await message.ack()
            continue
        channel = id(message.channel)
        if channel not in highest or tag > (highest[channel].delivery_tag or 0):
            highest[channel] = message
    for message in highest.values():
        await message.ack(multiple=True)

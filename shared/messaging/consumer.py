"""The one consumer wrapper: the ack policy of every service lives here.

A handler is ``async def verb(envelope, deps) -> None``. It commits its own transaction and returns; only then
is the message acked. It never acks itself; it raises instead:

- :class:`Retry` — try again after a delay (via the role's TTL'd retry queue, never a sleep here);
- :class:`Reject` — the message can never succeed: it goes to the role's dead-letter queue with the reason;
- anything else — an outage or a bug: retried with growing delays, dead-lettered after ``max_attempts``.

A message that is not an envelope, has no route on this queue, or whose payload fails validation is dead-lettered
at once — unless the service gave an ``unreadable`` handler (the directory answers such a command with
``command.rejected``): then that handler runs under the same policy, and the message is acked once it returns.
Over 150 lines: the whole ack policy stays in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from pydantic import ValidationError

from shared.contracts.envelope import EnvelopeHeader, Payload
from shared.logging import bind_context, get_logger
from shared.messaging import topology, wire
from shared.messaging.broker import Publisher, PublishFailed, persistent_copy

log = get_logger(__name__)
D = TypeVar("D")
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


@dataclass(frozen=True)
class Route(Generic[D]):
    model: type[Payload]
    handler: Callable[[Any, D], Awaitable[None]]


@dataclass(frozen=True)
class Unreadable:
    """A delivery the routes cannot take, as an ``unreadable`` handler receives it."""

    body: bytes
    reason: Literal["not_an_envelope", "no_route", "invalid"]
    header: EnvelopeHeader | None  # None when the body is not even an envelope
    errors: tuple[str, ...]  # pydantic's errors in plain words: "data.name: Field required"


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
    ):
        self.role, self.routes, self.deps, self._unreadable = role, routes, deps, unreadable
        self._publisher, self._names, self._max_attempts = publisher, names, max_attempts
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self, connection: AbstractRobustConnection, prefetch: int) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        # Declared (idempotently, same arguments) rather than looked up: a robust channel restores the queues it
        # declared, and their consumers, after the broker comes back; a queue merely looked up it forgets.
        self._queue = await channel.declare_queue(
            self._names.queue(self.role), durable=True, arguments=topology.work_queue_arguments(self._names, self.role)
        )
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

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._handle(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        try:
            header = wire.read_header(message)
        except ValidationError as exc:
            unreadable = Unreadable(message.body, "not_an_envelope", None, plain_errors(exc))
            return await self._cannot_read(message, unreadable, f"not a wamux envelope: {exc.errors()[0]['msg']}")
        route = self.routes.get(header.type)
        if route is None:
            unreadable = Unreadable(message.body, "no_route", header, ())
            return await self._cannot_read(message, unreadable, f"no handler for {header.type!r} on {self.role}")
        with bind_context(correlation_id=header.correlation_id, tenant_id=header.tenant_id, message_type=header.type):
            try:
                envelope = wire.read_envelope(message, route.model)
            except ValidationError as exc:
                unreadable = Unreadable(message.body, "invalid", header, plain_errors(exc))
                return await self._cannot_read(message, unreadable, f"invalid {header.type}: {exc}")
            await self._run(message, route.handler(envelope, self.deps), str(header.id))

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
        except Retry as exc:
            await self._retry(message, str(exc), exc.delay_s, counts=exc.counts)
        except Reject as exc:
            await self._dead_letter(message, str(exc))
        except Exception as exc:
            log.exception("handler.failed", message_id=message_id)
            await self._retry(message, f"{type(exc).__name__}: {exc}", None)
        else:
            await message.ack()

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

"""Connecting to RabbitMQ and publishing with confirms.

A publish succeeds only when the broker has confirmed it (persistent message, mandatory routing).
A nack, an unroutable message and a timeout are distinct failures of :class:`PublishFailed`, so the caller
(the gateway answering Meta, a consumer before its ack) knows the message is not safe yet.

Envelopes a publisher is asked to publish within one turn of the event loop (a batch's events, published
together) leave as one message per exchange and routing key — a lines group (``shared.messaging.wire``), split
again by the consumer into one delivery each —, every caller's publish confirmed when that message is: one
publish, one routing, one quorum-queue write and one delivery per queue instead of one per envelope. A single
envelope leaves as it always did.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import aio_pika
import aiormq
import aiormq.abc
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, DeliveryError, PublishError
from aiormq.exceptions import ChannelInvalidStateError
from pamqp.commands import Basic

from shared.contracts import roles as contract
from shared.contracts.envelope import Envelope
from shared.messaging import socket_writes, topology, wire
from shared.settings import Settings

# A lines group's bounds: a group of more leaves as several messages. A consumer's prefetch counts messages, so
# this also bounds the envelopes one replica holds unacked: its prefetch × 64 (2 × WAMUX_BATCH_MAX messages).
GROUP_MAX_ENVELOPES = 64
GROUP_MAX_BYTES = 1 << 20


class PublishFailed(Exception):
    def __init__(self, reason: Literal["nacked", "unroutable", "timeout", "disconnected"], detail: str = ""):
        super().__init__(f"publish {reason}: {detail}" if detail else f"publish {reason}")
        self.reason, self.detail = reason, detail


@asynccontextmanager
async def connect(
    settings: Settings, names: topology.Topology | None = None
) -> AsyncIterator[AbstractRobustConnection]:
    """A reconnecting connection; the topology (``names``, else the settings' prefix) is declared on it before it
    is handed out."""
    # A timeout on every (re)connection attempt: against a broker that is still booting, an attempt without one
    # can hang for good and the process never comes back.
    connection = await aio_pika.connect_robust(
        settings.amqp_url.get_secret_value(),
        client_properties={"connection_name": settings.service},
        timeout=settings.connect_timeout_s,
        reconnect_interval=settings.reconnect_interval_s,
        # Its socket's writes gathered per loop turn (socket_writes): one system call for a turn's frames.
        connection_class=socket_writes.GatheringRobustConnection,
    )
    try:
        async with connection.channel() as channel:
            await topology.declare(channel, names or topology.Topology(settings.broker_prefix))
        yield connection
    finally:
        await connection.close()


class Publisher:
    """Publishes envelopes: commands to the commands exchange, events to the events one.

    Opened for a ``role``, it refuses (:class:`ContractViolation`) an envelope whose type the role's contract
    does not publish (``shared/contracts/roles.py``); without one it publishes any type.
    """

    def __init__(
        self,
        channel: AbstractChannel,
        names: topology.Topology,
        timeout_s: float = 5.0,
        role: str | None = None,
        *,
        grouping: bool = True,
    ):
        self._channel = channel
        self._names = names
        self._timeout_s = timeout_s
        self._exchanges: dict[str, AbstractExchange] = {}
        self._role = contract.role(role).name if role is not None else None
        self._grouping = grouping
        # This turn's publishes, per (exchange, routing key, mandatory), sent at the start of the next turn.
        self._turn: dict[tuple[str, str, bool], _Turn] = {}
        self._sends: set[asyncio.Task[None]] = set()

    @classmethod
    async def open(
        cls,
        connection: AbstractRobustConnection,
        settings: Settings,
        *,
        names: topology.Topology | None = None,
        role: str | None = None,
        grouping: bool | None = None,
    ) -> Publisher:
        """``grouping`` (else ``settings.publish_groups``) False: every envelope a message of its own."""
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        names = names or topology.Topology(settings.broker_prefix)
        grouping = settings.publish_groups if grouping is None else grouping
        return cls(channel, names, settings.publish_timeout_s, role, grouping=grouping)

    @property
    def role(self) -> str | None:
        return self._role

    @property
    def names(self) -> topology.Topology:
        """The exchanges and queues it publishes to (one ``Topology`` per process, built by its opener)."""
        return self._names

    async def exchange(self, name: str) -> AbstractExchange:
        """An exchange by name; ``""`` is the default exchange (routing key = queue name)."""
        if name == "":
            return self._channel.default_exchange
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel.get_exchange(name, ensure=False)
        return self._exchanges[name]

    async def publish(self, envelope: Envelope[Any], *, body: bytes | None = None) -> None:
        """Commands and the events wamux consumes must reach a queue (mandatory); other events are facts
        for whoever binds to them (the CRM) and may have no listener yet. ``body``: the envelope's JSON, when the
        caller has it already (the outbox's)."""
        if self._role is not None:
            contract.check_publish(self._role, envelope.type)
        if envelope.data.KIND == "command" and envelope.type not in topology.CONSUMED_TYPES:
            # The commands exchange's alternate exchange would take it and answer command.rejected: that is for
            # outside publishers (the CRM); for wamux's own a command no queue takes stays a failed publish.
            raise PublishFailed("unroutable", envelope.type)
        exchange = await self.exchange(self._names.exchange_for(envelope.data.KIND))
        mandatory = envelope.data.KIND == "command" or envelope.type in topology.CONSUMED_TYPES
        body = body if body is not None else envelope.model_dump_json().encode()
        if not self._grouping or b"\n" in body:  # compact JSON has no raw newline; a given body might
            return await self._publish(exchange, envelope.type, body, json_properties(envelope), mandatory=mandatory)
        await self._in_turn(exchange, envelope.type, mandatory, body, json_properties(envelope))

    async def _in_turn(
        self, exchange: AbstractExchange, routing_key: str, mandatory: bool, body: bytes, properties: Basic.Properties
    ) -> None:
        """Join this turn's publishes to ``routing_key``; return once the message carrying this one is confirmed."""
        key = (exchange.name, routing_key, mandatory)
        turn = self._turn.get(key)
        if turn is None:
            if not self._turn:
                asyncio.get_running_loop().call_soon(self._send_turn)
            turn = self._turn[key] = _Turn(exchange)
        confirmed = asyncio.get_running_loop().create_future()
        turn.add(body, properties, confirmed)
        await confirmed

    def _send_turn(self) -> None:
        turns, self._turn = self._turn, {}
        for (_, routing_key, mandatory), turn in turns.items():
            for group in turn.groups():
                task = asyncio.create_task(self._send_group(turn.exchange, routing_key, mandatory, group))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)

    async def _send_group(
        self, exchange: AbstractExchange, routing_key: str, mandatory: bool, group: list[_Waiting]
    ) -> None:
        if len(group) == 1:
            body, properties = group[0].body, group[0].properties
        else:
            body = b"\n".join(w.body for w in group)
            properties = wire.lines_properties(group[0].properties, len(group), group_id=self._group_ids())
        try:
            await self._publish(exchange, routing_key, body, properties, mandatory=mandatory)
        except BaseException as exc:  # a failed publish, or a cancelled send (the process stopping): not confirmed
            if isinstance(exc, PublishFailed):
                reason, detail = exc.reason, exc.detail
            else:
                reason, detail = "disconnected", f"{type(exc).__name__}: {exc}"
            for waiting in group:  # each caller its own exception: they are raised in as many tasks
                if not waiting.confirmed.done():
                    waiting.confirmed.set_exception(PublishFailed(reason, detail))
            if not isinstance(exc, Exception):
                raise
            return
        for waiting in group:
            if not waiting.confirmed.done():
                waiting.confirmed.set_result(None)

    @functools.cached_property
    def _group_ids(self) -> wire.EnvelopeIds:
        return wire.EnvelopeIds()

    async def publish_later(self, envelope: Envelope[Any], delay_s: float) -> None:
        """Hand ``envelope`` to this publisher's own role after ``delay_s`` (rounded up to a retry tier): through
        the role's TTL'd retry queue, as a consumer's retry goes — for a service that schedules its own next try
        (the directory's onboarding steps). Only a type the role both publishes and consumes."""
        if self._role is None:
            raise contract.ContractViolation("publish_later needs a publisher opened for a role")
        contract.check_publish(self._role, envelope.type)
        if envelope.type not in contract.role(self._role).consumed_types:
            raise contract.ContractViolation(f"{self._role} does not consume {envelope.type}: it cannot schedule it")
        queue = self._names.retry_queue(self._role, topology.retry_tier(delay_s))
        body = envelope.model_dump_json().encode()
        await self._publish(self._channel.default_exchange, queue, body, json_properties(envelope), mandatory=True)

    async def publish_raw(
        self, exchange: AbstractExchange, routing_key: str, message: aio_pika.Message, *, mandatory: bool = True
    ) -> None:
        await self._publish(exchange, routing_key, message.body, message.properties, mandatory=mandatory)

    async def _publish(
        self,
        exchange: AbstractExchange,
        routing_key: str,
        body: bytes,
        properties: Basic.Properties,
        *,
        mandatory: bool,
    ) -> None:
        try:
            # What aio-pika's Exchange.publish does (the robust channel of the moment, then basic.publish), but
            # without waiting for the frames to be written before the next publish may queue its own (see
            # _confirmed): the confirm, awaited below, is the promise.
            robust = cast(aio_pika.Exchange, exchange).channel
            if robust.is_closed:
                raise ChannelInvalidStateError(f"{robust!r} closed")
            channel = await robust.get_underlay_channel()
            confirmation = await _confirmed(
                channel, body, exchange.name, routing_key, properties, mandatory=mandatory, timeout_s=self._timeout_s
            )
        except _FAILURES as exc:
            raise _failed(exc, routing_key) from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishFailed("nacked", routing_key)

    def lane(self, message_type: str, kind: Literal["command", "event"]) -> Lane:
        """Prepared publishes of one type (the role's contract checked once, here): see :class:`Lane`."""
        if self._role is not None:
            contract.check_publish(self._role, message_type)
        mandatory = kind == "command" or message_type in topology.CONSUMED_TYPES
        return Lane(self, self._names.exchange_for(kind), message_type, mandatory)

    async def _publish_prepared(
        self, exchange: str, routing_key: str, body: bytes, properties: Basic.Properties, *, mandatory: bool
    ) -> None:
        try:
            # The channel of this moment, without a robust channel's wait for the broker to come back: a webhook
            # that cannot be confirmed now is a 503 now (Meta retries), as aio-pika's own publish answers.
            channel = await aio_pika.Channel.get_underlay_channel(cast(aio_pika.Channel, self._channel))
            confirmation = await _confirmed(
                channel, body, exchange, routing_key, properties, mandatory=mandatory, timeout_s=self._timeout_s
            )
        except _FAILURES as exc:
            raise _failed(exc, routing_key) from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishFailed("nacked", routing_key)

    async def close(self) -> None:
        await self._channel.close()

    @property
    def is_open(self) -> bool:
        return not self._channel.is_closed


@dataclass(frozen=True)
class _Waiting:
    body: bytes
    properties: Basic.Properties
    confirmed: asyncio.Future[None]


@dataclass
class _Turn:
    """One turn's publishes to one exchange and routing key, in the order they were asked for."""

    exchange: AbstractExchange
    waiting: list[_Waiting] = field(default_factory=list)

    def add(self, body: bytes, properties: Basic.Properties, confirmed: asyncio.Future[None]) -> None:
        self.waiting.append(_Waiting(body, properties, confirmed))

    def groups(self) -> list[list[_Waiting]]:
        """The messages to send: at most ``GROUP_MAX_ENVELOPES`` envelopes and about ``GROUP_MAX_BYTES`` each."""
        found: list[list[_Waiting]] = []
        size = 0
        for waiting in self.waiting:
            if not found or len(found[-1]) >= GROUP_MAX_ENVELOPES or size + len(waiting.body) > GROUP_MAX_BYTES:
                found.append([])
                size = 0
            found[-1].append(waiting)
            size += len(waiting.body) + 1
        return found


@dataclass(frozen=True)
class Lane:
    """One message type published from bytes and AMQP properties already made (``shared.messaging.wire``), on the
    publisher's channel without aio-pika's message wrapper: the gateway's hot path. The same promise as
    :meth:`Publisher.publish`: confirmed, mandatory when wamux consumes the type, the same :class:`PublishFailed`
    reasons. The properties must make it persistent (``wire.webhook_properties`` does)."""

    publisher: Publisher
    exchange: str
    type: str
    mandatory: bool

    async def publish(self, body: bytes, properties: Basic.Properties) -> None:
        if properties.delivery_mode != aio_pika.DeliveryMode.PERSISTENT:
            raise ValueError(f"a {self.type} must be published persistent (delivery_mode 2)")
        await self.publisher._publish_prepared(self.exchange, self.type, body, properties, mandatory=self.mandatory)


_FAILURES = (AMQPError, ConnectionError, RuntimeError, TimeoutError)


async def _confirmed(
    channel: aiormq.abc.AbstractChannel,
    body: bytes,
    exchange: str,
    routing_key: str,
    properties: Basic.Properties,
    *,
    mandatory: bool,
    timeout_s: float,
) -> aiormq.abc.ConfirmationFrameType | None:
    """basic.publish, and the broker's confirm (or return) of it. ``wait=False``: aiormq otherwise holds the channel
    until its writer has written and drained this publish's frames, so concurrent publishes go to the socket one
    by one, each a write of its own that RabbitMQ reads alone. Without it they queue behind one another (aiormq's
    write queue still bounds them) and reach the broker together: measured here (``bench/publish.py``: 5,000
    ``message.received`` envelopes, 50 at a time, each to two quorum queues), 9 % less CPU in the publisher and
    5 % less in RabbitMQ than aio-pika's ``Exchange.publish``. Nothing is promised before the confirm, which is
    awaited either way."""
    return await cast(aiormq.Channel, channel).basic_publish(
        body,
        exchange=exchange,
        routing_key=routing_key,
        properties=properties,
        mandatory=mandatory,
        timeout=timeout_s,
        wait=False,
    )


def _failed(exc: BaseException, routing_key: str) -> PublishFailed:
    """What an aio-pika or aiormq exception from a publish means, as a :class:`PublishFailed` reason."""
    if isinstance(exc, PublishError):  # returned by the broker: no queue is bound for this key
        return PublishFailed("unroutable", routing_key)
    if isinstance(exc, DeliveryError):
        return PublishFailed("nacked", routing_key)
    if isinstance(exc, TimeoutError):
        return PublishFailed("timeout", routing_key)
    return PublishFailed("disconnected", type(exc).__name__)


def persistent_copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """The same message, persistent, with ``headers`` as its headers (to retry, dead-letter or replay it)."""
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
        timestamp=message.timestamp,
        headers=headers,
    )


def json_properties(envelope: Envelope[Any]) -> Basic.Properties:
    """The AMQP properties of ``envelope`` in the JSON form, persistent. Made as pamqp's properties at once: an
    ``aio_pika.Message`` to take them from costs 19 µs a publish here, these 1.4 µs."""
    return Basic.Properties(
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(envelope.id),
        correlation_id=envelope.correlation_id or None,  # an empty one is left out, as aio-pika leaves it
        message_type=envelope.type,
        timestamp=envelope.occurred_at,
        headers={"tenant_id": str(envelope.tenant_id) if envelope.tenant_id else ""},
    )


def to_message(envelope: Envelope[Any], body: bytes | None = None) -> aio_pika.Message:
    """``envelope`` in the JSON form as an aio-pika message (for tools and tests that publish with aio-pika)."""
    properties = json_properties(envelope)
    return aio_pika.Message(
        body=body if body is not None else envelope.model_dump_json().encode(),
        content_type=properties.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=properties.message_id,
        correlation_id=properties.correlation_id,
        type=properties.message_type,
        timestamp=properties.timestamp,
        headers=properties.headers,
    )

"""Broker fixtures: a declared topology under a random prefix, a tap that records what is published, and the acks a
consumer sends, watched on their way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pydantic import SecretStr

from shared.messaging import topology, wire
from shared.messaging.runtime import Infrastructure, infrastructure
from shared.settings import Settings


class Tap:
    """Every envelope published on the events and commands exchanges, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self.queue: aio_pika.abc.AbstractQueue | None = None

    async def drained(self, timeout: float = 10) -> None:
        """Bounded poll until everything routed to the tap has been received."""
        assert self.queue is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (await self.queue.channel.declare_queue(self.queue.name, passive=True)).declaration_result.message_count:
            assert loop.time() < deadline, "tap not drained"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with self._arrived:
            self.messages.extend(wire.as_json_parts(message))  # either wire form; a group of webhooks as each of them
            self._arrived.notify_all()
        await message.ack()

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == type_]

    async def wait_for(
        self, type_: str, count: int = 1, where: Callable[[dict[str, Any]], bool] = lambda _: True, timeout: float = 10
    ) -> list[dict[str, Any]]:
        def matching() -> list[dict[str, Any]]:
            return [m for m in self.of_type(type_) if where(m)]

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()


@pytest.fixture
async def infra(settings: Settings) -> AsyncIterator[Infrastructure]:
    async with infrastructure(settings) as value:
        yield value
        async with value.connection.channel() as channel:
            await topology.delete(channel, topology.Topology(settings.broker_prefix))


@pytest.fixture
async def tap(infra: Infrastructure) -> AsyncIterator[Tap]:
    names = infra.names
    recorder = Tap()
    channel = await infra.connection.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for exchange in (names.events, names.commands):
        await queue.bind(exchange, "#")
    recorder.queue = queue
    tag = await queue.consume(recorder.on_message)
    yield recorder
    await queue.cancel(tag)
    await channel.close()


async def queue_depth(connection: AbstractRobustConnection, name: str) -> int:
    async with connection.channel() as channel:
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)


async def get_one(connection: AbstractRobustConnection, name: str, timeout: float = 10) -> aio_pika.IncomingMessage:
    """Bounded poll for one message on a queue (acked)."""
    async with connection.channel() as channel:
        queue = await channel.get_queue(name, ensure=False)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await queue.get(fail=False, no_ack=True)
            if message is not None:
                return message  # type: ignore[return-value]
            if loop.time() > deadline:
                raise TimeoutError(f"no message on {name} within {timeout}s")
            await asyncio.sleep(0.05)


__all__ = ["Tap", "get_one", "queue_depth"]


def watch_acks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Every ``basic.ack`` sent from now on, as (delivery tag, multiple), in order; the real ack still goes to the
    broker."""
    acks: list[tuple[int, bool]] = []
    basic_ack = aiormq.Channel.basic_ack

    async def counted(channel: aiormq.Channel, delivery_tag: int, multiple: bool = False, **kwargs: object) -> None:
        acks.append((delivery_tag, multiple))
        await basic_ack(channel, delivery_tag, multiple, **kwargs)

    monkeypatch.setattr(aiormq.Channel, "basic_ack", counted)
    return acks


class CuttableLink:
    """A TCP relay to RabbitMQ whose open connections a test cuts, as a broker restart would; new ones pass.

    Entered, it gives ``settings`` with the AMQP URL through the relay and the reconnect interval asked for.
    """

    def __init__(self, settings: Settings, reconnect_interval_s: float) -> None:
        self._settings, self._reconnect_interval_s = settings, reconnect_interval_s
        self._url = urlsplit(settings.amqp_url.get_secret_value())
        self._upstream = (self._url.hostname or "127.0.0.1", self._url.port or 5672)
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Settings:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = int(self._server.sockets[0].getsockname()[1])
        relayed = self._url._replace(netloc=f"{self._url.username}:{self._url.password}@127.0.0.1:{port}")
        return self._settings.model_copy(
            update={"amqp_url": SecretStr(urlunsplit(relayed)), "reconnect_interval_s": self._reconnect_interval_s}
        )

    async def __aexit__(self, *_: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        writer.close()

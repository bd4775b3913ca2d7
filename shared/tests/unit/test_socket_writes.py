"""The broker connection's gathered writes (``shared.messaging.socket_writes``), over a real loopback socket.

The writer under :class:`GatheringWriter` is asyncio's own, on a real TCP connection to a server in this test; a thin
counter in between tells how many writes reached it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.messaging.socket_writes import GatheringWriter


@dataclass
class Counted:
    """asyncio's StreamWriter, each write it is handed recorded."""

    writer: asyncio.StreamWriter
    writes: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


@dataclass
class Link:
    gathering: GatheringWriter
    counted: Counted
    received: bytearray

    async def arrived(self, size: int) -> bytes:
        for _ in range(200):
            if len(self.received) >= size:
                return bytes(self.received)
            await asyncio.sleep(0.005)
        raise AssertionError(f"{len(self.received)} of {size} bytes arrived")


@pytest.fixture
async def link() -> AsyncIterator[Link]:
    received = bytearray()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            received.extend(chunk)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    counted = Counted(writer)
    gathering = GatheringWriter(counted, asyncio.get_running_loop())  # type: ignore[arg-type]
    yield Link(gathering, counted, received)
    gathering.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_what_one_turn_wrote_reaches_the_socket_as_one_write_in_order(link: Link) -> None:
    for frame in (b"publish-1;", b"publish-2;", b"ack;"):
        link.gathering.write(frame)
    assert link.counted.writes == []  # kept until the loop's next turn

    assert await link.arrived(24) == b"publish-1;publish-2;ack;"
    assert link.counted.writes == [b"publish-1;publish-2;ack;"]


async def test_writes_of_different_turns_are_not_held_back(link: Link) -> None:
    link.gathering.write(b"first;")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    link.gathering.write(b"second;")

    assert await link.arrived(13) == b"first;second;"
    assert link.counted.writes == [b"first;", b"second;"]


async def test_a_buffer_changed_after_its_write_sends_what_it_held_then(link: Link) -> None:
    buffer = bytearray(b"original")
    link.gathering.write(buffer)
    link.gathering.write(memoryview(buffer)[:4])
    buffer[:] = b"CHANGED!"

    assert await link.arrived(12) == b"originalorig"


async def test_drain_sends_what_is_kept_before_it_waits(link: Link) -> None:
    link.gathering.write(b"confirm me;")
    await link.gathering.drain()
    assert link.counted.writes == [b"confirm me;"]  # no loop turn needed

    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert link.counted.writes == [b"confirm me;"]  # and the scheduled flush found nothing left: no empty write
    assert await link.arrived(11) == b"confirm me;"


async def test_close_and_eof_send_what_is_kept_first(link: Link) -> None:
    link.gathering.write(b"connection.close;")
    assert link.gathering.can_write_eof()  # the wrapped writer's own
    link.gathering.write_eof()
    assert link.counted.writes == [b"connection.close;"]
    assert await link.arrived(17) == b"connection.close;"


async def test_a_write_after_the_socket_closed_meets_the_plain_writer_at_once(link: Link) -> None:
    link.gathering.write(b"kept;")
    link.counted.writer.close()  # the connection goes before the next turn
    link.gathering.write(b"late;")
    assert link.counted.writes == [b"late;"]  # handed over at once, as a plain writer would take it

    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert link.counted.writes == [b"late;"]  # and the kept frame was dropped, not written to a closed transport

"""The bookkeeping of overlapping batches' acks (consumer.Acks), with deliveries that record what is done to them:
which ack names which delivery, across a reconnect and a batch that failed as a whole. (The broker's side of it is
shared/tests/integration/test_many.py.)"""

from __future__ import annotations

import asyncio

from aiormq.exceptions import ChannelInvalidStateError

from shared.messaging import groups, wire
from shared.messaging.consumer import Acks


class Channel:
    """What RabbitMQ knows of a channel's deliveries: an ack of a tag it no longer holds closes the channel."""

    closed = False

    def __init__(self) -> None:
        self.outstanding: set[int] = set()
        self.gate: asyncio.Event | None = None  # while set: single acks wait (a busy writer)

    def ack(self, tag: int, multiple: bool) -> None:
        if tag not in self.outstanding:
            self.closed = True
            raise AssertionError(f"unknown delivery tag {tag}: the broker closes the channel")
        self.outstanding -= {t for t in self.outstanding if t <= tag} if multiple else {tag}


class Delivery:
    """As aio-pika's IncomingMessage: its channel cannot be asked for once closed; a settled one refuses a nack."""

    def __init__(self, channel: Channel, tag: int, *, lines: int = 0):
        self._channel, self.delivery_tag = channel, tag
        self.done: list[str] = []
        channel.outstanding.add(tag)
        # A lines group of that many envelopes (split by the consumer, as shared.messaging.groups does).
        self.headers = {wire.FORM_HEADER: wire.LINES_FORM} if lines else {}
        self.body = b"\n".join(b"{}" for _ in range(lines))
        self.type, self.timestamp = "message.send", None

    @property
    def channel(self) -> Channel:
        if self._channel.closed:
            raise ChannelInvalidStateError
        return self._channel

    async def ack(self, multiple: bool = False) -> None:
        assert not self._channel.closed
        if not multiple and self._channel.gate is not None:
            await self._channel.gate.wait()
        self._channel.ack(self.delivery_tag, multiple)
        self.done.append("ack multiple" if multiple else "ack")

    async def nack(self, requeue: bool = True) -> None:
        if self.done:
            raise RuntimeError("Message already processed")
        assert not self._channel.closed
        self.done.append("nack")


async def test_deliveries_after_a_reconnect_are_acked_though_a_batch_also_held_the_closed_channel_s() -> None:
    acks = Acks()
    old, new = Channel(), Channel()
    stale = Delivery(old, 7)
    acks.arrived(stale)  # type: ignore[arg-type]
    old.closed = True  # the connection dropped; the robust channel reopened and redelivers
    first, second = Delivery(new, 1), Delivery(new, 2)
    acks.arrived(first)  # type: ignore[arg-type]
    acks.arrived(second)  # type: ignore[arg-type]

    await acks.settled([stale, first], [stale, first])  # type: ignore[list-item]
    await acks.settled([second], [second])  # type: ignore[list-item]

    assert first.done == ["ack multiple"] and second.done == ["ack multiple"]
    assert stale.done == []  # its channel is gone: the broker delivers it again


async def test_a_batch_that_failed_as_a_whole_hands_back_what_it_left_open_and_holds_up_nothing() -> None:
    acks = Acks()
    channel = Channel()
    failed = [Delivery(channel, 1), Delivery(channel, 2)]
    later = Delivery(channel, 3)
    for delivery in (*failed, later):
        acks.arrived(delivery)  # type: ignore[arg-type]
    await failed[0].ack()  # given its verdict (a retry's republish, then its own ack) before the batch failed

    await acks.abandoned(failed)  # type: ignore[arg-type]
    await acks.settled([later], [later])  # type: ignore[list-item]

    assert failed[0].done == ["ack"] and failed[1].done == ["nack"]  # back on the queue, not acked unprocessed
    assert later.done == ["ack multiple"]


async def test_no_multiple_ack_covers_a_delivery_whose_own_ack_is_still_on_its_way() -> None:
    """B ends behind A, and its acks, one each, wait for the writer; meanwhile A ends, then C after B: C's ack must
    not name a tag past B's (it would cover them, and B's own acks would then name tags the broker has let go)."""
    acks = Acks()
    channel = Channel()
    a, b, c = [Delivery(channel, 1)], [Delivery(channel, 2), Delivery(channel, 3)], [Delivery(channel, 4)]
    for delivery in (*a, *b, *c):
        acks.arrived(delivery)  # type: ignore[arg-type]
    channel.gate = asyncio.Event()

    b_settling = asyncio.create_task(acks.settled(b, b))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    await acks.settled(a, a)  # type: ignore[arg-type]
    c_settling = asyncio.create_task(acks.settled(c, c))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    channel.gate.set()
    await asyncio.gather(b_settling, c_settling)

    assert not channel.closed and channel.outstanding == set()
    assert [d.done for d in (*a, *b, *c)] == [["ack multiple"], ["ack"], ["ack"], ["ack"]]


def envelopes_of(group: Delivery) -> list[groups.PartDelivery]:
    return groups.split(group)  # type: ignore[arg-type,return-value]


async def test_a_group_split_over_two_batches_is_covered_by_no_multiple_ack_before_its_last_envelope() -> None:
    """The group's second envelope and a later delivery end first, in a faster batch: the later one is acked alone
    (a multiple would cover the group's tag, and the group's own ack would then name a tag the broker let go)."""
    acks = Acks()
    channel = Channel()
    group, later = Delivery(channel, 1, lines=2), Delivery(channel, 2)
    first, second = envelopes_of(group)
    for delivery in (first, second, later):
        acks.arrived(delivery)  # type: ignore[arg-type]

    await acks.settled([second, later], [second, later])  # type: ignore[list-item]
    assert later.done == ["ack"] and group.done == [] and channel.outstanding == {1}
    await acks.settled([first], [first])  # type: ignore[list-item]

    assert not channel.closed and channel.outstanding == set()
    assert group.done == ["ack"]  # once, when its last envelope was settled


async def test_a_group_behind_which_deliveries_are_done_lets_the_head_go_on_once_it_is_over() -> None:
    acks = Acks()
    channel = Channel()
    group, after = Delivery(channel, 1, lines=2), [Delivery(channel, 2), Delivery(channel, 3)]
    parts = envelopes_of(group)
    for delivery in (*parts, *after):
        acks.arrived(delivery)  # type: ignore[arg-type]

    await acks.settled(parts, parts)  # type: ignore[arg-type]
    await acks.settled(after, after)  # type: ignore[arg-type]

    assert not channel.closed and channel.outstanding == set()
    assert group.done == ["ack"] and [d.done for d in after] == [[], ["ack multiple"]]


async def test_a_failed_batch_sends_a_group_back_once_and_holds_up_nothing_behind_it() -> None:
    acks = Acks()
    channel = Channel()
    group, later = Delivery(channel, 1, lines=3), Delivery(channel, 2)
    parts = envelopes_of(group)
    for delivery in (*parts, later):
        acks.arrived(delivery)  # type: ignore[arg-type]
    await parts[0].ack()  # given its verdict (a retry's republish, then its own ack) before the batch failed

    await acks.abandoned(parts[:2])  # type: ignore[arg-type]
    await acks.settled([parts[2], later], [parts[2], later])  # type: ignore[list-item]

    assert group.done == ["nack"]  # the whole group back on the queue, once; its done envelope changes nothing
    assert later.done == ["ack multiple"] and not channel.closed

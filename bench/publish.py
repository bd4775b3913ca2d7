"""Confirmed publishes, CPU per message in this process and in RabbitMQ: wamux's Publisher against aio-pika's own
``Exchange.publish`` (the path it replaced), the same envelopes to the same quorum queues.

A scratch topology (its own prefix, deleted afterwards) with the ai-worker's and billing's queues; each round
publishes ``--messages`` ``message.received`` envelopes (about 800 bytes), ``--concurrency`` at a time, as a
batch's round of confirms does (``shared.messaging.batch.publish_all``). ``aio-pika publish`` waits, as aiormq
does by default, until each publish's frames are written and drained before the channel takes the next one;
``wamux`` (``Publisher.publish``) does not, and still waits for every confirm; ``wamux, one each`` publishes every
envelope as a message of its own (``WAMUX_PUBLISH_GROUPS=false``), ``wamux`` as it runs, a round's envelopes asked
for together leaving as lines groups (``shared.messaging.wire``), so its figures are per envelope. RabbitMQ's CPU
is its ``beam.smp`` process's, read from /proc (this machine's broker: nothing else may use it meanwhile).
Interleaved rounds, medians.

    .venv/bin/python bench/publish.py [--rounds 5] [--messages 5000] [--concurrency 50]

Writes artifacts/bench/publish.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from support.broker import AMQP_URL
from support.results import Row, median, now_iso, write_results

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageReceived
from shared.messaging import broker, topology
from shared.messaging.runtime import event_loop
from shared.settings import Settings

TICKS = os.sysconf("SC_CLK_TCK")


def broker_cpu_s() -> float:
    pid = subprocess.check_output(["pgrep", "-o", "beam.smp"], text=True).split()[0]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def envelope(n: int) -> Envelope[MessageReceived]:
    return wrap(
        MessageReceived(
            client_id=uuid.uuid4(),
            phone_number_id="106540352242922",
            display_phone_number="15550783881",
            wamid=f"wamid.bench{n:012d}" + "A" * 40,
            wa_id="573001234567",
            profile_name="Ana",
            message_type="text",
            text="Hola, ¿el apartamento de Chapinero sigue disponible? Me gustaría visitarlo el martes." * 3,
            timestamp=datetime.now(UTC),
        ),
        correlation_id=f"bench-{n}",
    )


async def cpu_us_per_message(
    publish: Callable[[Envelope[MessageReceived]], Awaitable[None]], messages: int, concurrency: int
) -> tuple[float, float]:
    envelopes = [envelope(n) for n in range(messages)]
    started, broker_started = time.process_time(), broker_cpu_s()
    for first in range(0, messages, concurrency):
        await asyncio.gather(*(publish(e) for e in envelopes[first : first + concurrency]))
    client, rabbit = time.process_time() - started, broker_cpu_s() - broker_started
    return client / messages * 1e6, rabbit / messages * 1e6


async def measure(args: argparse.Namespace) -> list[Row]:
    settings = Settings(service="bench-publish", amqp_url=AMQP_URL, broker_prefix=f"bench{uuid.uuid4().hex[:8]}")
    names = topology.Topology(settings.broker_prefix)
    async with broker.connect(settings, names) as connection:
        publisher = await broker.Publisher.open(connection, settings, names=names)
        one_each = await broker.Publisher.open(connection, settings, names=names, grouping=False)
        events = await publisher.exchange(names.events)

        async def wamux(e: Envelope[MessageReceived]) -> None:
            await publisher.publish(e)

        async def wamux_one_each(e: Envelope[MessageReceived]) -> None:
            await one_each.publish(e)

        async def aio_pika_publish(e: Envelope[MessageReceived]) -> None:
            confirmation = await events.publish(broker.to_message(e), routing_key=e.type, mandatory=True, timeout=5)
            assert confirmation is not None

        ways = {"wamux": wamux, "wamux, one each": wamux_one_each, "aio-pika publish": aio_pika_publish}
        measured: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
        try:
            for warm in (wamux, wamux_one_each):  # warm: channels open, code paths taken
                await cpu_us_per_message(warm, 500, args.concurrency)
            for _ in range(args.rounds):
                for way, publish in ways.items():
                    measured[way].append(await cpu_us_per_message(publish, args.messages, args.concurrency))
                    for role in ("ai-worker", "billing"):  # each round starts from empty queues
                        async with connection.channel() as channel:
                            await (await channel.get_queue(names.queue(role))).purge()
        finally:
            async with connection.channel() as channel:
                await topology.delete(channel, names)
    rows: list[Row] = []
    note = f"median of {args.rounds} rounds of {args.messages} persistent publishes, {args.concurrency} at a time"
    for way, values in measured.items():
        client, rabbit = median([v[0] for v in values]), median([v[1] for v in values])
        print(f"  {way:<17} publisher {client:6.1f} µs/message   RabbitMQ {rabbit:6.1f} µs/message", flush=True)
        rows.append(Row(f"confirmed publish, {way}: publisher CPU", round(client, 1), "µs", note))
        rows.append(Row(f"confirmed publish, {way}: RabbitMQ CPU", round(rabbit, 1), "µs", note))
    return rows


async def main(args: argparse.Namespace) -> None:
    started_at = now_iso()
    print(f"confirmed publishes on {os.cpu_count()} cores", flush=True)
    rows = await measure(args)
    print(f"wrote {write_results('publish', started_at, rows)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    with asyncio.Runner(loop_factory=event_loop) as runner:
        runner.run(main(parser.parse_args()))

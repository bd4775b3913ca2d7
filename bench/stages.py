"""Each consuming service's throughput alone: a queue pre-filled with real messages, drained by 1 then 2 processes.

For each stage (router, ai-worker, sender, billing; the directory is not on the hot path) the messages are made by
the platform itself, with the stage stopped: customer webhooks (bench/load/payload.py's ~1 KB text, one customer
each) are posted to the gateway and the services upstream of the stage run until its queue holds everything they
produce (router: webhook.received as the gateway publishes it; ai-worker: message.received; sender: message.send
and message.mark_read; billing: message.received, message.sent and Meta's sent / delivered / read statuses). The
database then holds what the stage's handlers need (tenant, number, the router's conversation rows), written by
the services' own code. The queue's messages are taken away unchanged and the database kept as a template; each run
gets a copy of both (a fresh database and broker prefix), starts the stage's processes, and times the drain from
the moment all of them consume until every effect is committed (counted in the stage's own tables).

The sender's per-number throughput is set far above Meta's tiers here, so the process's own speed shows, not the
limit it keeps (bench/pipeline.py runs with a real tier).

    .venv/bin/python bench/stages.py                       # every stage, 2,000 customer messages, 1 and 2 processes
    .venv/bin/python bench/stages.py --stages sender --messages 500 --runs 3

Writes artifacts/bench/stages.json.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractConnection
from pipeline_support import procstat, queues, scratch_platform, traffic
from pipeline_support.queues import Captured
from pipeline_support.results import medians
from pipeline_support.webhooks import signed_webhooks
from support.results import Row, now_iso, write_results

from launcher.stack import Stack
from shared.messaging import topology
from shared.migrate import migrate
from tests.support.tenants import Tenant

# Far above Meta's tiers (80, 1,000 msg/s): the sender's own speed, not the limit it holds.
UNLIMITED_RATE = 1_000_000.0


@dataclass(frozen=True)
class Stage:
    name: str
    upstream: tuple[str, ...]  # what makes its messages while it is stopped
    beside: tuple[str, ...]  # what it needs while it drains (the emulator, the LLM stub)
    status_webhooks: bool  # Meta's statuses of each reply, back through the gateway, while filling
    effects_sql: str  # its committed effects so far
    effect_of: frozenset[str]  # the message types that each leave one effect there

    def expected(self, messages: list[Captured]) -> int:
        """Effects to wait for: one per envelope (a lines group or a group of webhooks carries several)."""
        return sum(m.envelopes for m in messages if m.type in self.effect_of)


STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage(
            "router",
            ("gateway",),
            (),
            False,
            "SELECT count(*) FROM router.messages",
            frozenset({"webhook.received"}),
        ),
        Stage(
            "ai-worker",
            ("sandbox", "gateway", "router"),
            ("sandbox",),
            False,
            "SELECT count(*) FROM ai_worker.answers",
            frozenset({"message.received"}),
        ),
        Stage(
            "sender",
            ("sandbox", "gateway", "router", "ai-worker"),
            ("sandbox",),
            False,
            "SELECT count(*) FROM sender.sends",
            frozenset({"message.send"}),
        ),
        Stage(
            "billing",
            ("sandbox", "gateway", "router", "ai-worker", "sender"),
            (),
            True,
            "SELECT count(*) FROM billing.inbox",
            frozenset({"message.received", "message.sent", "message.status"}),
        ),
    )
}


@dataclass(frozen=True)
class Filled:
    """A stage's queue as the platform filled it, and the database it filled it against (a template)."""

    stage: Stage
    template: str
    tenants: list[Tenant]
    messages: list[Captured]

    @property
    def mix(self) -> str:
        counts: Counter[str | None] = Counter()
        for m in self.messages:
            counts[m.type] += m.envelopes
        return ", ".join(f"{n} {t}" for t, n in counts.most_common())


@dataclass(frozen=True)
class Drain:
    processes: int
    events: int
    seconds: float
    cpu_s: dict[str, float]

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def _log_dir(label: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"wamux-bench-stages-{label}-"))


async def fill(stage: Stage, broker: AbstractConnection, messages: int, numbers: int, rate: float) -> Filled:
    """Run what is upstream of ``stage`` on ``messages`` customer webhooks until its queue holds all they make."""
    db_name = await scratch_platform.create_database()
    prefix, ports = scratch_platform.new_prefix(), scratch_platform.Ports.free()
    try:
        url = scratch_platform.database_url(db_name)
        await migrate(url)
        tenants = await scratch_platform.seed_tenants(url, numbers)
        env = scratch_platform.platform_env(
            db_name, prefix, ports, number_rate_per_s=UNLIMITED_RATE, status_webhooks=stage.status_webhooks
        )
        stack = Stack(env, _log_dir(f"{stage.name}-fill"))
        try:
            await stack.start(list(stage.upstream), wait_s=90)
            if "sandbox" in stage.upstream:
                await scratch_platform.register_with_emulator(ports.graph_url, tenants)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                offered = await traffic.offer(
                    http, f"{stack.gateway_url}/webhook/whatsapp", signed_webhooks(tenants, 0, messages), rate
                )
            if offered.failures:
                raise RuntimeError(f"filling {stage.name}: webhooks failed {offered.failures}")
            await _until_only_target_holds(broker, prefix, stage)
        finally:
            await stack.stop()
        taken = await queues.take_all(broker, topology.Topology(prefix).queue(stage.name))
        await queues.delete_topology(broker, prefix)
    except BaseException:
        await scratch_platform.drop_database(db_name)
        raise
    return Filled(stage, db_name, tenants, taken)


async def _until_only_target_holds(
    broker: AbstractConnection, prefix: str, stage: Stage, steady_s: float = 3.0, timeout_s: float = 900.0
) -> None:
    """Until the queues of what runs upstream are empty and the stage's has not changed for ``steady_s``."""
    names = topology.Topology(prefix)
    target = names.queue(stage.name)
    # The queues of what runs upstream (those of what is stopped, the billing's among them, fill as well).
    others = [
        queue
        for role in stage.upstream
        if role in topology.ROLES
        for queue in (names.queue(role), *(names.retry_queue(role, d) for d in topology.RETRY_TIERS_S))
    ]
    loop = asyncio.get_running_loop()
    deadline, last_depth, since = loop.time() + timeout_s, -1, loop.time()
    async with broker.channel() as channel:
        while loop.time() < deadline:
            depth = (await queues.depths(channel, [target]))[target]
            if depth != last_depth:
                last_depth, since = depth, loop.time()
            busy = sum((await queues.depths(channel, others)).values())
            if depth and not busy and loop.time() - since >= steady_s:
                return
            await asyncio.sleep(0.5)
    raise TimeoutError(f"{stage.name}'s queue still changing (or others busy) after {timeout_s:.0f} s")


async def drain(filled: Filled, broker: AbstractConnection, processes: int) -> Drain:
    """A copy of the filled queue and database, drained by ``processes`` processes of the stage."""
    stage = filled.stage
    db_name = await scratch_platform.create_database(template=filled.template)
    prefix, ports = scratch_platform.new_prefix(), scratch_platform.Ports.free()
    queue = topology.Topology(prefix).queue(stage.name)
    env = scratch_platform.platform_env(db_name, prefix, ports, number_rate_per_s=UNLIMITED_RATE, status_webhooks=False)
    beside = Stack(env, _log_dir(f"{stage.name}-beside"))
    workers = [Stack(env, _log_dir(f"{stage.name}-{n}")) for n in range(processes)]
    conn = await asyncpg.connect(scratch_platform.database_url(db_name))
    try:
        await queues.put_back(broker, prefix, queue, filled.messages)
        if stage.beside:
            await beside.start(list(stage.beside), wait_s=60)
            await scratch_platform.register_with_emulator(ports.graph_url, filled.tenants)
        for worker in workers:
            await worker.start_one(stage.name)
        pids = {f"{stage.name} {n + 1}": w.processes[stage.name].pid for n, w in enumerate(workers)}
        async with broker.channel() as channel:
            _, started = await _all_consuming(channel, queue, workers, stage.name)
            cpu_before = procstat.snapshot(pids)
            effects_before = int(await conn.fetchval(stage.effects_sql))
            expected = stage.expected(filled.messages)
            ended = await _effects_done(channel, conn, queue, stage, expected)
            cpu = procstat.spent(cpu_before, procstat.snapshot(pids))
        if int(await conn.fetchval(stage.effects_sql)) <= effects_before:
            raise RuntimeError(f"{stage.name} committed nothing: see {workers[0].log(stage.name)}")
        # The envelopes left when every process consumed (a queue's depth counts messages, and a group carries
        # many): all of them, in the share of the stage's effects still to come then.
        envelopes = sum(m.envelopes for m in filled.messages)
        left = round(envelopes * (expected - effects_before) / max(1, expected))
        return Drain(processes, left, ended - started, cpu)
    finally:
        await conn.close()
        for stack in (*workers, beside):
            await stack.stop()
        await queues.delete_topology(broker, prefix)
        await scratch_platform.drop_database(db_name)


async def _all_consuming(channel: AbstractChannel, queue: str, workers: list[Stack], name: str) -> tuple[int, float]:
    """When every process has its consumer on the queue: what the queue still holds then, and the moment."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for worker in workers:
            if worker.processes[name].returncode is not None:
                raise RuntimeError(f"{name} exited with {worker.processes[name].returncode}: see {worker.log(name)}")
        declared = await channel.declare_queue(queue, passive=True)
        if (declared.declaration_result.consumer_count or 0) >= len(workers):
            return int(declared.declaration_result.message_count or 0), time.monotonic()
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{len(workers)} {name} processes not all consuming within 90 s")


async def _effects_done(
    channel: AbstractChannel, conn: asyncpg.Connection, queue: str, stage: Stage, expected: int, quiet_s: float = 3.0
) -> float:
    """The moment the last effect was committed: all ``expected`` of them, or (an effect the stage chose not to
    leave) the queue empty and nothing new for ``quiet_s``."""
    last_count, last_change = -1, time.monotonic()
    deadline = last_change + 1800
    while time.monotonic() < deadline:
        count = int(await conn.fetchval(stage.effects_sql))
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        if count >= expected:
            return now
        declared = await channel.declare_queue(queue, passive=True)
        if not declared.declaration_result.message_count and now - last_change >= quiet_s:
            return last_change
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{stage.name} not drained within 30 minutes ({last_count}/{expected} effects)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stages", default=",".join(STAGES), help="which, comma-separated (default %(default)s)")
    parser.add_argument(
        "--messages", type=int, default=2000, help="customer messages behind each fill (default %(default)s)"
    )
    parser.add_argument("--replicas", default="1,2", help="process counts to drain with (default %(default)s)")
    parser.add_argument("--runs", type=int, default=1, help="drains of each count; figures are medians")
    parser.add_argument("--numbers", type=int, default=1, help="business numbers (one tenant each)")
    parser.add_argument("--fill-rate", type=float, default=200, help="webhooks/s posted while filling")
    return parser.parse_args()


async def main() -> None:
    args = parse_args()
    started_at = now_iso()
    replicas = [int(r) for r in args.replicas.split(",")]
    rows: list[Row] = []
    async with queues.connection() as broker:
        for name in args.stages.split(","):
            stage = STAGES[name]
            print(f"{name}: filling its queue from {args.messages} customer messages ({', '.join(stage.upstream)})")
            filled = await fill(stage, broker, args.messages, args.numbers, args.fill_rate)
            try:
                print(f"  {len(filled.messages)} messages carrying {filled.mix}")
                rows += medians([await _measure(filled, broker, k) for _ in range(args.runs) for k in replicas])
            finally:
                await scratch_platform.drop_database(filled.template)
    print(f"wrote {write_results('stages', started_at, rows)}")


async def _measure(filled: Filled, broker: AbstractConnection, processes: int) -> list[Row]:
    result = await drain(filled, broker, processes)
    cpu = ", ".join(f"{n} {s:.1f} s" for n, s in result.cpu_s.items() if n != "load generator")
    print(
        f"  {processes} process(es): {result.events} events in {result.seconds:.2f} s → {result.per_second:,.0f}"
        f" events/s ({result.per_second / processes:,.0f} per process); CPU {cpu}"
    )
    stage, what = filled.stage.name, "1 process" if processes == 1 else f"{processes} replicas, total"
    note = f"drain of a pre-filled queue ({filled.mix}), all processes consuming → every effect committed"
    return [Row(f"stages: {stage} events/s, {what}", round(result.per_second, 1), "msg/s", note)]


if __name__ == "__main__":
    asyncio.run(main())

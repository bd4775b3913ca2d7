"""The whole pipeline under an open-loop load: its highest sustained rate and its latency at a fixed rate.

The platform runs as ``make demo`` runs it (launcher.stack: every service one process, the sandbox's Meta emulator
and LLM stub at zero latency), fresh for each run, in a scratch database and broker prefix. Customer messages are
offered at a fixed rate, one per signed webhook through the gateway (bench/load/payload.py's ~1 KB text), each from
a customer of its own; the emulator answers each reply with Meta's sent / delivered / read webhooks by itself.
Measured per step: webhook answers (due → 200), replies at the emulator (due → the emulator took the send), every
wamux queue's depth each second, and each process's CPU.

Where the server runs with autovacuum off (this machine's does), a VACUUM of the scratch database every 20 s
stands in for it (``--vacuum-every``), as production's servers vacuum by themselves.

A step is *sustained* when the backlog is flat (total depth at the end of the step not above its level after the
warm-up plus a tolerance, and so the customer messages due but not answered yet: a queue's depth counts messages, and
a lines group carries many envelopes), replies keep pace (≥ 95 % of the offered rate after the warm-up) and no
webhook failed.

    .venv/bin/python bench/pipeline.py --find-max                  # ramp 25 … 500 msg/s, 60 s steps
    .venv/bin/python bench/pipeline.py --rate 100 --seconds 60     # latency at 100 msg/s
    .venv/bin/python bench/pipeline.py --runs 3                    # both, medians of 3
    .venv/bin/python bench/pipeline.py --runs 3 --confirm-seconds 300   # and the ramp's rate held for 5 minutes
                                                                         # (what `make bench` runs)

A ramp's one-minute steps can pass a rate that a longer run does not hold (a backlog that grows slowly, tables
that grow): ``--confirm-seconds`` runs the ramp's finding (the median of the runs) once more on a fresh platform
for that long, and the next lower ramp rate while it is not held, at most three rates.

Writes artifacts/bench/pipeline.json. bench/e2e_latency.py (one message at a time, closed loop) is kept as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pipeline_support import procstat, queues, scratch_platform, traffic
from pipeline_support.results import medians, percentile
from pipeline_support.webhooks import signed_webhooks
from support.results import Row, now_iso, write_results

from launcher.stack import Stack
from shared.messaging.runtime import event_loop
from tests.support.tenants import Tenant

RAMP = (25, 35, 50, 70, 100, 150, 200, 300, 500)  # finer where the platform stands today
MAX_SAMPLING_GAP_S = 3.0
HOT_PATH = ["sandbox", "gateway", "router", "ai-worker", "sender", "billing"]


@dataclass(frozen=True)
class Options:
    numbers: int
    number_rate: float
    step_seconds: float
    warmup_seconds: float
    tolerance_seconds: float
    settle_seconds: float
    vacuum_every_s: float


@dataclass(frozen=True)
class Step:
    rate: float
    seconds: float
    offered: int
    offered_rate: float  # what the generator really sent, first to last
    generator_lag_ms: float
    failures: dict[str, int]
    answered_ms: list[float]
    reply_ms: list[float]  # messages due after the warm-up
    replied: int
    reply_rate: float  # replies taken by the emulator per second after the warm-up, while offering
    depth_after_warmup: int
    depth_at_end: int
    # Customer messages due and not answered yet (at the emulator), after the warm-up and at the end.
    unanswered_after_warmup: int
    unanswered_at_end: int
    deepest_at_end: dict[str, int]  # the queues holding most of the backlog at the end: where it stands
    # The longest the broker took to answer the depth probe during the step: past a few seconds the backlog was
    # not seen and cannot be called flat (a stalled broker also stalls every service, and the probe with them).
    sampling_gap_s: float
    tolerance: int
    drained_s: float | None
    cpu_s: dict[str, float]

    @property
    def queues_flat(self) -> bool:
        return self.depth_at_end <= self.depth_after_warmup + self.tolerance

    @property
    def answers_flat(self) -> bool:
        return self.unanswered_at_end <= self.unanswered_after_warmup + self.tolerance

    @property
    def flat(self) -> bool:
        return self.sampling_gap_s <= MAX_SAMPLING_GAP_S and self.queues_flat and self.answers_flat

    @property
    def keeps_pace(self) -> bool:
        return self.reply_rate >= 0.95 * self.rate

    @property
    def sustained(self) -> bool:
        return self.flat and self.keeps_pace and not self.failures


class Platform:
    """One fresh platform: database, tenants, broker prefix, processes; torn down on exit."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.ports = scratch_platform.Ports.free()
        self.prefix = scratch_platform.new_prefix()
        self.tenants: list[Tenant] = []
        self._exit = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Platform:
        db_name = await self._exit.enter_async_context(scratch_platform.scratch_database())
        self.tenants = await scratch_platform.seed_tenants(scratch_platform.database_url(db_name), self.options.numbers)
        await self._exit.enter_async_context(
            scratch_platform.autovacuum_stand_in(scratch_platform.database_url(db_name), self.options.vacuum_every_s)
        )
        env = scratch_platform.platform_env(
            db_name, self.prefix, self.ports, number_rate_per_s=self.options.number_rate
        )
        self.stack = Stack(env, Path(tempfile.mkdtemp(prefix="wamux-bench-pipeline-")))
        self.broker = await self._exit.enter_async_context(queues.connection())
        self._exit.push_async_callback(queues.delete_topology, self.broker, self.prefix)
        self._exit.push_async_callback(self.stack.stop)
        await self.stack.start(HOT_PATH, wait_s=90)
        await scratch_platform.register_with_emulator(self.ports.graph_url, self.tenants)
        self.http = await self._exit.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512), timeout=aiohttp.ClientTimeout(total=30))
        )
        self.channel = await self.broker.channel()
        self._exit.push_async_callback(self.channel.close)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._exit.aclose()

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.stack.processes.items()}

    async def step(self, rate: float, seconds: float, first_customer: int) -> Step:
        o = self.options
        loop = asyncio.get_running_loop()
        webhooks = signed_webhooks(self.tenants, first_customer, int(rate * seconds))
        watcher = traffic.ReplyWatcher(self.http, self.ports.graph_url)
        await watcher.clear()
        sampler = queues.DepthSampler(self.broker, queues.backlog_queues(self.prefix))
        sampling, watching = asyncio.create_task(sampler.run()), asyncio.create_task(watcher.run())
        try:
            cpu_before, started = procstat.snapshot(self.pids), loop.time()
            offering = asyncio.create_task(
                traffic.offer(self.http, f"{self.stack.gateway_url}/webhook/whatsapp", webhooks, rate)
            )
            await asyncio.sleep(max(0.0, started + seconds - loop.time()))
            cpu_after, ended = procstat.snapshot(self.pids), loop.time()
            offered = await offering
            await self._settle(watcher, offered, o.settle_seconds)
        finally:
            sampler.stop()
            watching.cancel()
            await asyncio.gather(sampling, watching, return_exceptions=True)
        warm = started + min(o.warmup_seconds, seconds / 3)
        warm_wall = offered.first_wall + (warm - started)
        end_wall = offered.first_wall + seconds
        after_warmup = [wa for wa, due in offered.due_wall.items() if due >= warm_wall]
        reply_ms = [
            (watcher.replied_wall[wa] - offered.due_wall[wa]) * 1000
            for wa in after_warmup
            if wa in watcher.replied_wall
        ]
        in_window = sum(1 for t in watcher.replied_wall.values() if warm_wall <= t <= end_wall)
        return Step(
            rate=rate,
            seconds=seconds,
            offered=len(webhooks),
            offered_rate=(len(webhooks) - 1) / max(1e-9, offered.last_wall - offered.first_wall),
            generator_lag_ms=offered.latest_start_s * 1000,
            failures=offered.failures,
            answered_ms=offered.answered_ms,
            reply_ms=reply_ms,
            replied=sum(1 for wa in offered.due_wall if wa in watcher.replied_wall),
            reply_rate=in_window / max(1e-9, end_wall - warm_wall),
            depth_after_warmup=_depth_near(sampler, warm),
            depth_at_end=_depth_near(sampler, ended),
            unanswered_after_warmup=_unanswered(offered, watcher, warm_wall),
            unanswered_at_end=_unanswered(offered, watcher, end_wall),
            deepest_at_end=_deepest_near(sampler, ended, self.prefix),
            sampling_gap_s=sampler.longest_gap(started, ended),
            tolerance=max(20, int(rate * o.tolerance_seconds)),
            drained_s=await self._drain(sampler.queues, timeout_s=60),
            cpu_s=procstat.spent(cpu_before, cpu_after),
        )

    async def _settle(self, watcher: traffic.ReplyWatcher, offered: traffic.Offered, seconds: float) -> None:
        """Give the last replies time to come out (they count for latency, not for the pace)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline and any(wa not in watcher.replied_wall for wa in offered.due_wall):
            await asyncio.sleep(0.5)
        await watcher.poll()

    async def _drain(self, names: list[str], timeout_s: float) -> float | None:
        """Seconds until every backlog queue is empty again (None: not within ``timeout_s``)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() - start < timeout_s:
            if sum((await queues.depths(self.channel, names)).values()) == 0:
                return loop.time() - start
            await asyncio.sleep(0.5)
        return None


def _depth_near(sampler: queues.DepthSampler, moment: float) -> int:
    """The median of the total depths sampled within 2 s of ``moment`` (one sample is one instant's noise)."""
    near = [s.total for s in sampler.between(moment - 2, moment + 2)] or [
        min(sampler.samples, key=lambda s: abs(s.at - moment)).total
    ]
    return int(statistics.median(near))


def _unanswered(offered: traffic.Offered, watcher: traffic.ReplyWatcher, wall: float) -> int:
    """Customer messages due by ``wall`` (wall-clock time) that the emulator had not taken a reply to by then."""
    due = sum(1 for at in offered.due_wall.values() if at <= wall)
    return due - sum(1 for at in watcher.replied_wall.values() if at <= wall)


def _deepest_near(sampler: queues.DepthSampler, moment: float, prefix: str, top: int = 3) -> dict[str, int]:
    """The ``top`` deepest queues (prefix taken off) in the sample nearest ``moment``, those holding anything."""
    if not sampler.samples:
        return {}
    nearest = min(sampler.samples, key=lambda s: abs(s.at - moment))
    deepest = sorted(nearest.depths.items(), key=lambda item: -item[1])[:top]
    return {name.removeprefix(f"{prefix}."): depth for name, depth in deepest if depth}


def describe(step: Step) -> str:
    why = []
    if not step.queues_flat:
        why.append(f"backlog {step.depth_after_warmup} → {step.depth_at_end}")
    if not step.answers_flat:
        why.append(f"unanswered {step.unanswered_after_warmup} → {step.unanswered_at_end}")
    if step.sampling_gap_s > MAX_SAMPLING_GAP_S:
        why.append(f"the broker left the depth probe unanswered for {step.sampling_gap_s:.0f} s")
    if not step.keeps_pace:
        why.append(f"replies {step.reply_rate:.0f}/s")
    if step.failures:
        why.append(f"failures {step.failures}")
    verdict = "sustained" if step.sustained else f"NOT sustained ({', '.join(why)})"
    drained = f"drained in {step.drained_s:.1f} s" if step.drained_s is not None else "not drained in 60 s"
    answered, reply = step.answered_ms, step.reply_ms
    cpu = sorted(step.cpu_s.items(), key=lambda item: -item[1])
    return "\n".join(
        [
            f"  {step.rate:>5.0f} msg/s × {step.seconds:.0f} s: {verdict}",
            f"        offered {step.offered} at {step.offered_rate:.1f}/s"
            f" (the generator at most {step.generator_lag_ms:.0f} ms late);"
            f" replies {step.replied}/{step.offered}, {step.reply_rate:.1f}/s after warm-up",
            f"        backlog {step.depth_after_warmup} after warm-up → {step.depth_at_end} at the end,"
            f" unanswered {step.unanswered_after_warmup} → {step.unanswered_at_end}"
            f" (tolerance {step.tolerance}); {drained}"
            + (
                "; deepest: " + ", ".join(f"{q} {d}" for q, d in step.deepest_at_end.items())
                if step.deepest_at_end
                else ""
            ),
            f"        webhook answer p50 {percentile(answered, 50):.1f} / p99 {percentile(answered, 99):.1f} ms;"
            f" webhook→reply p50 {percentile(reply, 50):.1f} / p90 {percentile(reply, 90):.1f}"
            f" / p99 {percentile(reply, 99):.1f} ms",
            "        CPU per customer message: " + ", ".join(f"{n} {1000 * s / step.offered:.1f} ms" for n, s in cpu),
        ]
    )


async def find_max(options: Options, ramp: list[float]) -> list[Row]:
    print(f"find-max: ramp {', '.join(f'{r:g}' for r in ramp)} msg/s, {options.step_seconds:g} s steps, fresh platform")
    steps: list[Step] = []
    async with Platform(options) as platform:
        first = 0
        for rate in ramp:
            step = await platform.step(rate, options.step_seconds, first)
            first += step.offered
            steps.append(step)
            print(describe(step), flush=True)
            if not step.sustained:
                break
    sustained = [s for s in steps if s.sustained]
    best = sustained[-1] if sustained else None
    how = f"ramp {'/'.join(f'{r:g}' for r in ramp)}, {options.step_seconds:g} s steps, {options.numbers} number(s)"
    print(f"highest sustained rate: {best.rate:g} msg/s" if best else "highest sustained rate: none of the steps")
    rows = [Row(HIGHEST, best.rate if best else 0.0, "msg/s", how)]
    if best is not None:
        rows += latency_rows(best, f"at {best.rate:g} msg/s (highest sustained)")
        rows += cpu_rows(best)
    return rows


HIGHEST = "pipeline: highest sustained rate (flat backlog)"


async def confirm(options: Options, ramp: list[float], found: float, seconds: float) -> list[Row]:
    """The highest ramp rate up to ``found`` that a fresh platform holds for ``seconds``, with its latency."""
    name = f"pipeline: highest rate sustained for {seconds:g} s (flat backlog)"
    for rate in sorted((r for r in ramp if r <= found), reverse=True)[:3]:
        print(f"confirm: {rate:g} msg/s for {seconds:g} s, fresh platform")
        async with Platform(options) as platform:
            step = await platform.step(rate, seconds, 0)
        print(describe(step), flush=True)
        if step.sustained:
            print(f"held for {seconds:g} s: {rate:g} msg/s")
            how = f"one {seconds:g} s step on a fresh platform, from the ramp's {found:g} msg/s down"
            return [Row(name, rate, "msg/s", how), *latency_rows(step, f"over {seconds:g} s at {rate:g} msg/s")]
    print(f"held for {seconds:g} s: none of the rates tried")
    return [Row(name, 0.0, "msg/s", f"no ramp rate up to {found:g} msg/s held for {seconds:g} s")]


async def at_rate(options: Options, rate: float, seconds: float) -> list[Row]:
    print(f"rate: {rate:g} msg/s for {seconds:g} s, fresh platform")
    async with Platform(options) as platform:
        step = await platform.step(rate, seconds, 0)
    print(describe(step))
    return [
        *latency_rows(step, f"at {rate:g} msg/s"),
        Row(
            f"pipeline: replies per second at {rate:g} msg/s offered",
            round(step.reply_rate, 1),
            "msg/s",
            "after warm-up",
        ),
        Row(
            f"pipeline: sustained at {rate:g} msg/s (1 yes, 0 no)",
            float(step.sustained),
            "x",
            "flat backlog, pace, no failure",
        ),
        *cpu_rows(step),
    ]


def latency_rows(step: Step, where: str) -> list[Row]:
    """Percentiles (nearest rank) of what was measured; none of what was not (every webhook failed, no reply)."""
    rows = []
    if step.answered_ms:
        note = f"{len(step.answered_ms)} answers, from the moment each was due"
        rows += [
            Row(f"pipeline: webhook answer p{p} {where}", round(percentile(step.answered_ms, p), 1), "ms", note)
            for p in (50, 99)
        ]
    if step.reply_ms:
        note = f"{len(step.reply_ms)} replies to messages due after the warm-up, due → taken by the emulator"
        rows += [
            Row(f"pipeline: webhook→reply p{p} {where}", round(percentile(step.reply_ms, p), 1), "ms", note)
            for p in (50, 90, 99)
        ]
    return rows


def cpu_rows(step: Step) -> list[Row]:
    return [
        Row(
            f"pipeline: {name} CPU per customer message at {step.rate:g} msg/s",
            round(1000 * s / step.offered, 2),
            "ms",
            "/proc/<pid>/stat, user + system, over the step",
        )
        for name, s in sorted(step.cpu_s.items(), key=lambda item: -item[1])
    ]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--find-max", action="store_true", help="ramp until a step is not sustained")
    parser.add_argument(
        "--ramp", default=",".join(map(str, RAMP)), help="the ramp's rates, msg/s (default %(default)s)"
    )
    parser.add_argument("--step-seconds", type=float, default=60, help="each ramp step (default %(default)s)")
    parser.add_argument("--rate", type=float, help="one step at this rate, for its latency percentiles")
    parser.add_argument("--seconds", type=float, default=60, help="the --rate step's length (default %(default)s)")
    parser.add_argument("--runs", type=int, default=1, help="fresh runs of each mode; figures are medians")
    parser.add_argument(
        "--confirm-seconds",
        type=float,
        help="after --find-max, hold its rate (or the next lower ramp rate) this long on a fresh platform",
    )
    parser.add_argument(
        "--numbers", type=int, default=1, help="business numbers (one tenant each) the customers write to"
    )
    parser.add_argument(
        "--number-rate",
        type=float,
        default=1000,
        help="per-number throughput tier, sender and emulator (Meta: 80 → 1,000)",
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=10, help="left out of latency and pace (at most a third of a step)"
    )
    parser.add_argument(
        "--tolerance-seconds",
        type=float,
        default=1.0,
        help="flat: end depth (and unanswered messages) ≤ after warm-up + this many seconds of offered messages (≥ 20)",
    )
    parser.add_argument(
        "--vacuum-every",
        type=float,
        default=20,
        help="where the server runs with autovacuum off (this machine's does), VACUUM the scratch database this often,"
        " in autovacuum's place (its CPU counts as PostgreSQL's); 0: never (default %(default)s s)",
    )
    parser.add_argument(
        "--settle-seconds", type=float, default=10, help="after a step, wait this long at most for the last replies"
    )
    args = parser.parse_args()
    if not args.find_max and args.rate is None:
        args.find_max, args.rate = True, 100.0
    if args.confirm_seconds is not None and (args.confirm_seconds <= 0 or not args.find_max):
        parser.error("--confirm-seconds takes a positive number of seconds, and --find-max (or no mode at all)")
    return args


async def main() -> None:
    args = parse_args()
    options = Options(
        args.numbers,
        args.number_rate,
        args.step_seconds,
        args.warmup_seconds,
        args.tolerance_seconds,
        args.settle_seconds,
        args.vacuum_every,
    )
    started_at = now_iso()
    rows: list[Row] = []
    if args.find_max:
        ramp = [float(r) for r in args.ramp.split(",")]
        found = medians([await find_max(options, ramp) for _ in range(args.runs)])
        rows += found
        highest = next(row.value for row in found if row.figure == HIGHEST)
        if args.confirm_seconds and highest > 0:
            rows += await confirm(options, ramp, highest, args.confirm_seconds)
    if args.rate is not None:
        rows += medians([await at_rate(options, args.rate, args.seconds) for _ in range(args.runs)])
    print(f"wrote {write_results('pipeline', started_at, rows)}")


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=event_loop) as runner:  # the load generator on uvloop, as the services
        runner.run(main())

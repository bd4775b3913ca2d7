"""Soak: the whole platform under a steady load, and each process's resident memory at its start and its end.

The platform runs as ``make demo`` runs it (launcher/stack.py: the six services and the sandbox, one process
each) in a scratch database and broker prefix, with the LLM stub at zero latency and no reply burst window. The
load is ``--rate`` customer messages a second, one per signed webhook (bench/load/payload.py's webhook, each with
its own wamid and customer), posted to the gateway on a fixed schedule; the emulator answers every reply with
Meta's sent / delivered / read statuses itself. After ``--warmup`` seconds each process's VmRSS is read (start),
then every ``--sample`` seconds, and once more after ``--minutes`` (end); growth above 10 % in a wamux service is
flagged. The sandbox stands in for Meta and keeps its outbox (up to 50,000 sends) by design: it is shown, not
flagged. The backlog of every work queue at the end says whether the platform kept up at that rate.

    .venv/bin/python bench/soak.py [--rate 50] [--minutes 10] [--warmup 30]

Writes artifacts/bench/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from load.payload import PHONE_NUMBER_ID, signature, webhook
from pipeline_support import scratch_platform
from scratch import scratch_database
from support.broker import delete_topology, queue_depths
from support.results import Row, now_iso, write_results
from support.rss import growth_percent, rss_mib

from launcher.stack import Stack

SECRET = scratch_platform.APP_SECRET  # what the gateway checks signatures with
DISPLAY_NUMBER = "573005550142"  # the scratch number (valid: the directory refuses 555 numbers); tenants are
# resolved by phone_number_id, so payload.webhook()'s display number need not match
FLAG_PERCENT = 10.0
NOT_FLAGGED = {"sandbox"}  # the stand-in for Meta keeps what it was sent


def customer_webhook(sequence: int, customer: str) -> bytes:
    """The benchmarks' one webhook, as from ``customer`` with a wamid of its own, sent now."""
    notification = json.loads(webhook(PHONE_NUMBER_ID, f"wamid.bench.soak.{uuid.uuid4().hex}.{sequence}"))
    value = notification["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = customer
    value["contacts"][0]["user_id"] = f"CO.{customer}"
    value["messages"][0]["from"] = customer
    value["messages"][0]["timestamp"] = str(int(time.time()))  # inside the 24-hour window: the reply is free-form
    return json.dumps(notification, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Load:
    """The steady load and what the gateway answered."""

    statuses: collections.Counter[int | str] = field(default_factory=collections.Counter)
    answer_ms: list[float] = field(default_factory=list)
    sent: int = 0
    late: int = 0  # posts that could not start on schedule (the in-flight bound was reached)

    async def run(self, url: str, rate: float, seconds: float, customers: int, in_flight: int) -> None:
        bound = asyncio.Semaphore(in_flight)
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            started = time.monotonic()
            while (due := started + self.sent / rate) < started + seconds:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if bound.locked():
                    self.late += 1
                await bound.acquire()
                body = customer_webhook(self.sent, f"57300{self.sent % customers:07d}")
                task = asyncio.create_task(self.post(http, url, body, bound))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                self.sent += 1
            await asyncio.gather(*tasks)

    async def post(self, http: aiohttp.ClientSession, url: str, body: bytes, bound: asyncio.Semaphore) -> None:
        started = time.perf_counter()
        try:
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(body, SECRET)}
            async with http.post(url, data=body, headers=headers) as answer:
                await answer.read()
                self.statuses[answer.status] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.statuses[type(exc).__name__] += 1
        finally:
            self.answer_ms.append((time.perf_counter() - started) * 1000)
            bound.release()


def sample(stack: Stack) -> dict[str, float]:
    return {name: rss_mib(process.pid) for name, process in stack.processes.items() if process.returncode is None}


def platform_env(database_url: str, prefix: str, rate: float) -> tuple[dict[str, str], int]:
    """The platform's environment as the pipeline benchmark gives it, with room for the soak's rate (Meta's 80/s
    tier, or twice the rate when higher); and the emulator's port."""
    ports = scratch_platform.Ports.free()
    env = scratch_platform.platform_env(
        database_url.rsplit("/", 1)[1], prefix, ports, number_rate_per_s=max(80.0, 2 * rate)
    )
    return env, ports.graph


async def register_number(graph: int) -> None:
    """The scratch number in the emulator's registry, so statuses are sent back for its replies (as the demo's)."""
    number = {"phone_number_id": PHONE_NUMBER_ID, "display_phone_number": DISPLAY_NUMBER, "waba_id": "1"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{graph}/_sandbox/numbers", json=number) as answer:
            answer.raise_for_status()


async def replies_since(graph: int, since: datetime) -> int:
    params = {"phone_number_id": PHONE_NUMBER_ID, "since": since.isoformat()}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{graph}/_sandbox/outbox", params=params) as answer:
            return len(await answer.json())


async def main(args: argparse.Namespace) -> None:
    started_at = now_iso()
    async with scratch_database("+" + DISPLAY_NUMBER, PHONE_NUMBER_ID) as database_url:
        prefix = f"benchsoak{uuid.uuid4().hex[:6]}"
        env, graph = platform_env(database_url, prefix, args.rate)
        stack = Stack(env, Path(tempfile.mkdtemp(prefix="wamux-bench-soak-")))
        try:
            await stack.start(wait_s=90)
            await register_number(graph)
            rows = await soak(args, stack, graph, prefix)
        finally:
            await stack.stop()
            await delete_topology(prefix)
    print(f"wrote {write_results('soak', started_at, rows)}  (logs in {stack.log_dir})")


async def soak(args: argparse.Namespace, stack: Stack, graph: int, prefix: str) -> list[Row]:
    load = Load()
    seconds = args.warmup + args.minutes * 60
    customers = args.customers or max(600, int(12 * args.rate))  # each customer at most every 12 s: Meta's pair rate
    url = f"{stack.gateway_url}/webhook/whatsapp"
    print(f"soak: {args.rate:g} msg/s for {args.warmup:g} s warm-up + {args.minutes:g} min, {os.cpu_count()} cores")
    loading = asyncio.create_task(load.run(url, args.rate, seconds, customers, args.in_flight))
    await asyncio.sleep(args.warmup)
    measured_from = datetime.now(UTC)
    start = sample(stack)
    print("  start RSS (MiB): " + "  ".join(f"{n} {v:.1f}" for n, v in start.items()), flush=True)
    deadline = time.monotonic() + args.minutes * 60
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(args.sample, left))
        now = sample(stack)
        depth = sum((await queue_depths(prefix)).values())
        print(
            f"  +{(datetime.now(UTC) - measured_from).total_seconds():5.0f} s  backlog {depth:>6}  RSS "
            + "  ".join(f"{n} {v:.1f}" for n, v in now.items()),
            flush=True,
        )
    end = sample(stack)
    depths = await queue_depths(prefix)
    replies = await replies_since(graph, measured_from)
    await loading
    return rows_of(args, start, end, depths, replies, load)


def rows_of(
    args: argparse.Namespace,
    start: dict[str, float],
    end: dict[str, float],
    depths: dict[str, int],
    replies: int,
    load: Load,
) -> list[Row]:
    how = f"VmRSS after {args.warmup:g} s warm-up and after {args.minutes:g} min at {args.rate:g} msg/s"
    rows = []
    print(f"\n  {'process':<10} {'start MiB':>10} {'end MiB':>10} {'growth':>8}")
    for name in start:
        if name not in end:
            rows.append(Row(f"{name} RSS at end", float("nan"), "MiB", "the process exited during the soak"))
            continue
        growth = growth_percent(start[name], end[name])
        flag = "" if growth <= FLAG_PERCENT or name in NOT_FLAGGED else f"; GROWS > {FLAG_PERCENT:g} %"
        why = " (the stand-in for Meta keeps its outbox)" if name in NOT_FLAGGED else ""
        print(f"  {name:<10} {start[name]:>10.1f} {end[name]:>10.1f} {growth:>+7.1f} %{flag}{why}")
        rows.append(Row(f"{name} RSS at start", round(start[name], 1), "MiB", how))
        rows.append(Row(f"{name} RSS at end", round(end[name], 1), "MiB", f"growth {growth:+.1f} %{flag}{why}"))
    measured_s = args.minutes * 60
    answered = dict(load.statuses)
    backlog = ", ".join(f"{q} {n}" for q, n in depths.items() if n) or "none"
    print(
        f"  webhooks: {load.sent} sent, answers {answered}, {load.late} not on schedule; backlog at the end: {backlog}"
    )
    print(
        f"  replies at the emulator during the measured {args.minutes:g} min: {replies} ({replies / measured_s:.1f}/s)"
    )
    not_200 = sum(n for status, n in load.statuses.items() if status != 200)
    rows.append(
        Row(
            "replies at the emulator during the soak",
            round(replies / measured_s, 1),
            "msg/s",
            f"offered {args.rate:g} msg/s; {not_200} webhooks not answered 200; backlog at the end: {backlog}",
        )
    )
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="customer messages a second (default 50)")
    parser.add_argument("--minutes", type=float, default=10.0, help="measured minutes after the warm-up (default 10)")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds of load before the start sample (30)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between progress samples (default 30)")
    parser.add_argument("--customers", type=int, default=0, help="distinct customers (default max(600, 12 × rate))")
    parser.add_argument("--in-flight", type=int, default=256, help="webhook posts in flight at most (default 256)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

"""Gateway side by side: pywa's own server, a bare aiohttp server that only checks the signature, and wamux's gateway.

Every server gets the same signed ~1 KB webhook (bench/load/payload.py) from the same load generator
(``wrk -t1 -cC -dDs`` with bench/load/signed_post.lua), one process each, started fresh for every run, in
interleaved rounds (pywa, bare, wamux, pywa, …). Before a run counts, each server must answer the signed body 200
and a wrongly signed one 4xx; a run with non-2xx answers or socket errors is reported as such. For wamux the broker
is asked afterwards: the router's queue (purged before the run, nothing consuming it) must hold at least one
persisted webhook per 200 answered (taken off it and counted, a group commit's message counting each webhook it
carries) — durable means counted. pywa runs from a venv this script builds for itself
(.bench/pywa-venv): it is a benchmark dependency only.

    .venv/bin/python bench/gateway_vs_pywa.py [--rounds 3] [--duration 10] [--connections 50]

Prints every run and the medians; writes artifacts/bench/gateway.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from load.payload import signature, webhook
from support.broker import AMQP_URL, channel_to, delete_topology, purge, webhooks_held
from support.processes import Started, free_port, running
from support.results import REPOSITORY, Row, median, now_iso, write_results
from support.rss import rss_mib
from support.wrk import WrkRun, run_wrk

from launcher.environment import environment
from shared.messaging import topology

BENCH = Path(__file__).resolve().parent
PYWA_VENV = REPOSITORY / ".bench" / "pywa-venv"
PYWA_REQUIREMENTS = ("pywa>=4.5", "fastapi", "uvicorn[standard]")  # uvicorn[standard]: uvloop and httptools
PYWA_VARIANTS = ("own-async", "own-sync", "fastapi-async", "fastapi-sync")
DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"  # the gateway's /readyz asks it; nothing is written
PATH = "/webhook/whatsapp"
VERIFY_TOKEN = "bench-verify-token"


@dataclass
class Measured:
    server: str
    runs: list[WrkRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return median([r.requests_per_s for r in self.runs])

    @property
    def p99(self) -> float:
        return median([r.p99_ms for r in self.runs])


def meta_2026_body() -> bytes:
    """payload.webhook(), with the business-scoped ``user_id`` Meta puts on every contact since 2026
    (/work/shared/meta-cloud-api.md) when the payload lacks it: pywa 4.5 requires it to build a Message."""
    notification = json.loads(webhook())
    value = notification["entry"][0]["changes"][0]["value"]
    if all("user_id" in contact for contact in value["contacts"]):
        return webhook()
    for contact in value["contacts"]:
        contact.setdefault("user_id", f"CO.{contact['wa_id']}")
    return json.dumps(notification, ensure_ascii=False, separators=(",", ":")).encode()


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:  # as .ci/run installs chromium
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)


def ensure_pywa_venv() -> str:
    """The venv's python, built once and reused; pywa's version."""
    python = PYWA_VENV / "bin" / "python"
    probe = [str(python), "-c", "import pywa, uvloop, httptools, fastapi, uvicorn; print(pywa.__version__)"]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.strip()
    subprocess.run([sys.executable, "-m", "venv", str(PYWA_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PYWA_REQUIREMENTS], check=True)
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True)
class Bench:
    args: argparse.Namespace
    secret: str
    body_file: Path
    good_signature: str
    prefix: str  # wamux's broker prefix for this run
    log_dir: Path

    def command(self, server: str, port: int) -> tuple[list[str], dict[str, str], str]:
        """argv, environment and readiness URL of one server."""
        base = f"http://127.0.0.1:{port}"
        if server.startswith("pywa "):
            variant = server.removeprefix("pywa ")
            argv = [str(PYWA_VENV / "bin" / "python"), str(BENCH / "support" / "pywa_server.py")]
            argv += ["--port", str(port), "--secret", self.secret, "--variant", variant]
            ready = f"{base}{PATH}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"
            return argv, dict(os.environ), ready
        if server == "bare":
            argv = [sys.executable, str(BENCH / "support" / "bare_server.py"), "--port", str(port)]
            return [*argv, "--secret", self.secret], dict(os.environ), f"{base}/healthz"
        overrides = {
            "WAMUX_APP_SECRET": self.secret,
            "WAMUX_VERIFY_TOKEN": VERIFY_TOKEN,
            "WAMUX_BROKER_PREFIX": self.prefix,
            "WAMUX_AMQP_URL": AMQP_URL,
            "WAMUX_DATABASE_URL": DATABASE_URL,
            "WAMUX_GATEWAY_HOST": "127.0.0.1",
            "WAMUX_GATEWAY_PORT": str(port),
            "WAMUX_LOG_LEVEL": self.args.gateway_log_level,
        }
        if self.args.group_max is not None:
            overrides["WAMUX_WEBHOOK_GROUP_MAX"] = str(self.args.group_max)
        env = environment("gateway", dict(os.environ), overrides)
        return [sys.executable, "-m", "gateway"], env, f"{base}/readyz"

    async def measure(self, server: str, measured: Measured) -> None:
        port = free_port()
        argv, env, ready = self.command(server, port)
        url = f"http://127.0.0.1:{port}{PATH}"
        router_queue = topology.Topology(self.prefix).queue("router")
        async with running(server.replace(" ", "-"), argv, env, self.log_dir, ready) as started:
            await self.preflight(url)
            if self.args.warmup > 0:
                await self.wrk(url, self.args.warmup)
            if server == "wamux":
                await purge(router_queue)
            run = await self.wrk(url, self.args.duration)
            depth = await webhooks_held(router_queue) if server == "wamux" else None
            rss = rss_mib(started.pid)
        handled = pywa_handled(started) if server.startswith("pywa ") else None
        measured.runs.append(run)
        line = (
            f"  {server:<18} {run.requests_per_s:>9,.0f} req/s   p50 {run.p50_ms:6.1f} ms   p99 {run.p99_ms:6.1f} ms"
            f"   non-2xx {run.non_2xx}   socket errors {run.socket_errors}   RSS {rss:.0f} MiB"
        )
        if depth is not None:
            line += f"   queued {depth:,} for {run.answered_200:,} answered 200"
            if depth < run.answered_200:
                measured.problems.append(f"only {depth} of {run.answered_200} answered 200 are in the broker")
        if handled is not None:
            line += f"   handler saw {handled:,} (warm-up included)"
            if handled < run.answered_200:
                measured.problems.append(f"its handler saw {handled} messages for {run.answered_200} answered 200")
        if not run.clean:
            measured.problems.append(f"{run.non_2xx} non-2xx answers, {run.socket_errors} socket errors")
        print(line, flush=True)

    async def wrk(self, url: str, duration_s: float) -> WrkRun:
        return await run_wrk(
            url, self.body_file, self.good_signature, connections=self.args.connections, duration_s=duration_s
        )

    async def preflight(self, url: str) -> None:
        """The signed body answered 200, a wrongly signed one refused: the server checks what it is measured on."""
        body = self.body_file.read_bytes()
        async with aiohttp.ClientSession() as http:
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": self.good_signature}
            async with http.post(url, data=body, headers=headers) as answer:
                if answer.status != 200:
                    raise SystemExit(f"{url} answered the signed webhook {answer.status}: {await answer.text()}")
            headers["X-Hub-Signature-256"] = signature(body, self.secret + "-wrong")
            async with http.post(url, data=body, headers=headers) as answer:
                if not 400 <= answer.status < 500:
                    raise SystemExit(f"{url} answered a wrongly signed webhook {answer.status}, not 4xx")


def pywa_handled(started: Started) -> int:
    lines = [line for line in started.log.read_text(errors="replace").splitlines() if line.startswith("pywa_handled")]
    return int(lines[-1].split()[1]) if lines else 0


def rows_of(results: dict[str, Measured], args: argparse.Namespace, pywa_version: str) -> list[Row]:
    how = f"median of {args.rounds}, wrk -t1 -c{args.connections} -d{args.duration:g}s, one process, interleaved"
    rows: list[Row] = []
    for server, measured in results.items():
        name = {"bare": "bare aiohttp (signature only)", "wamux": "wamux gateway (confirmed, durable)"}.get(
            server, server.replace("pywa ", f"pywa {pywa_version} ")
        )
        problems = f"; NOT CLEAN: {'; '.join(sorted(set(measured.problems)))}" if measured.problems else "; all 200"
        rows.append(Row(f"{name} req/s", round(measured.rps), "req/s", how + problems))
        rows.append(Row(f"{name} p99", round(measured.p99, 1), "ms", f"median p99 of {args.rounds} runs"))
    pywa = {s: m for s, m in results.items() if s.startswith("pywa ")}
    if pywa and "wamux" in results:
        best = max(pywa, key=lambda s: pywa[s].rps)
        ratio = results["wamux"].rps / pywa[best].rps
        rows.append(Row("wamux / pywa's best", round(ratio, 2), "x", f"wamux req/s ÷ {best} req/s (goal ≥ 2.0)"))
    return rows


async def main(args: argparse.Namespace) -> None:
    started_at = now_iso()
    ensure_wrk()
    async with channel_to():  # the broker answers, before minutes of rounds are spent
        pass
    pywa_version = ensure_pywa_venv() if args.pywa else ""
    run_dir = REPOSITORY / ".bench" / "runs" / f"gateway-{started_at.replace(':', '')}"
    secret = f"bench-secret-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    body_file = run_dir / "webhook.json"
    body_file.write_bytes(meta_2026_body())
    bench = Bench(
        args, secret, body_file, signature(body_file.read_bytes(), secret), f"bench{uuid.uuid4().hex[:6]}", run_dir
    )
    servers = [f"pywa {v}" for v in args.pywa] + ["bare", "wamux"]
    results = {server: Measured(server) for server in servers}
    print(f"gateway side by side on {os.cpu_count()} cores, logs in {run_dir}", flush=True)
    try:
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number} of {args.rounds}", flush=True)
            for server in servers:
                await bench.measure(server, results[server])
    finally:
        await delete_topology(bench.prefix)
    rows = rows_of(results, args, pywa_version)
    print(f"\nmedians ({os.cpu_count()} cores; {body_file.stat().st_size} B signed webhook):")
    for row in rows:
        print(f"  {row.figure:<48} {row.value:>10,} {row.unit:<6} {row.note}")
    print(f"wrote {write_results('gateway', started_at, rows)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured wrk load first (default 2)")
    parser.add_argument(
        "--pywa",
        nargs="*",
        choices=PYWA_VARIANTS,
        default=["own-async", "own-sync"],
        help="pywa variants to measure: own = pywa's own Starlette server (as `pywa run`), fastapi = "
        "WhatsApp(server=FastAPI()); async = pywa_async, sync = pywa (default: own-async own-sync)",
    )
    parser.add_argument(
        "--group-max", type=int, default=None, help="WAMUX_WEBHOOK_GROUP_MAX of the gateway (default: its own)"
    )
    parser.add_argument("--gateway-log-level", default="INFO", help="WAMUX_LOG_LEVEL of the gateway (default INFO)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

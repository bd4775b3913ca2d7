"""The gateway's webhook path alone: ``python -m gateway`` against the real RabbitMQ, posted by wrk.

``python bench/gateway/run.py [--runs 3] [--seconds 10] [--connections 50]`` starts one fresh gateway process
under a random broker prefix (its topology declared by the gateway itself, the router's queue taking every
``webhook.received``), posts the signed ~1 KB webhook of bench/load/payload.py with bench/load/signed_post.lua,
``wrk -t1 -c50`` for each run, purges the router's queue between runs (what is measured is the gateway's
confirmed publish, not a growing queue), and prints each run's req/s and their median. Every answer must be a
200: wrk's non-2xx count is printed and fails the run. WAMUX_AMQP_URL and WAMUX_DATABASE_URL default to the
local servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import aio_pika

HERE = Path(__file__).resolve().parent
LOAD = HERE.parent / "load"
SECRET = "bench-app-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(port: int, prefix: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WAMUX_")}
    return {
        **inherited,
        "WAMUX_AMQP_URL": os.environ.get("WAMUX_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "WAMUX_DATABASE_URL": os.environ.get("WAMUX_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        "WAMUX_BROKER_PREFIX": prefix,
        "WAMUX_APP_SECRET": SECRET,
        "WAMUX_GATEWAY_HOST": "127.0.0.1",
        "WAMUX_GATEWAY_PORT": str(port),
        "WAMUX_LOG_LEVEL": os.environ.get("WAMUX_LOG_LEVEL", "INFO"),
    }


def wait_ready(url: str, process: subprocess.Popen[bytes], wait_s: float = 30) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gateway exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gateway not ready within {wait_s} s")


def router_queue(prefix: str) -> str:
    from shared.messaging import topology

    return topology.Topology(prefix).queue("router")


async def purge(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection, connection.channel() as channel:
        await (await channel.get_queue(queue, ensure=False)).purge()


async def delete_topology(amqp_url: str, prefix: str) -> None:
    from shared.messaging import topology

    connection = await aio_pika.connect(amqp_url)
    async with connection, connection.channel() as channel:
        await topology.delete(channel, topology.Topology(prefix))


def wrk(url: str, seconds: int, connections: int, body: Path, signature: str) -> tuple[float, str]:
    env = {**os.environ, "WAMUX_BENCH_BODY": str(body), "WAMUX_BENCH_SIGNATURE": signature}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LOAD / "signed_post.lua")]
    out = subprocess.run([*command, f"{url}/webhook/whatsapp"], env=env, capture_output=True, text=True, check=True)
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout):
        raise SystemExit(f"{match.group(1)} answers were not 200:\n{out.stdout}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    p99 = re.search(r"99%\s+(\S+)", out.stdout)
    if rate is None:
        raise SystemExit(f"wrk said nothing measurable:\n{out.stdout}\n{out.stderr}")
    return float(rate.group(1)), p99.group(1) if p99 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--asyncio-loop", action="store_true", help="hide uvloop from the gateway (to compare)")
    parser.add_argument("--py-spy", metavar="OUT", help="record the gateway with py-spy (collapsed stacks) to OUT")
    args = parser.parse_args()
    port, prefix = free_port(), f"bench{uuid.uuid4().hex[:8]}"
    env = environment(port, prefix)
    work = Path(tempfile.mkdtemp(prefix="wamux-bench-gateway-"))
    signature = subprocess.run(
        [sys.executable, str(LOAD / "payload.py"), str(work), SECRET], capture_output=True, text=True, check=True
    ).stdout.strip()
    url = f"http://127.0.0.1:{port}"
    log = (work / "gateway.log").open("wb")
    command = [sys.executable, "-m", "gateway"]
    if args.asyncio_loop:  # an import of uvloop then fails, as where it is not installed
        command = [
            sys.executable,
            "-c",
            "import sys; sys.modules['uvloop'] = None; import runpy; runpy.run_module('gateway', run_name='__main__')",
        ]
    if args.py_spy:  # py-spy is not a wamux dependency: install it where you like, on PATH
        command = ["py-spy", "record", "--format", "raw", "--rate", "250", "-o", args.py_spy, "--", *command]
    gateway = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    rates = []
    try:
        wait_ready(url, gateway)
        for run in range(args.runs):
            rate, p99 = wrk(url, args.seconds, args.connections, work / "webhook.json", signature)
            rates.append(rate)
            print(f"run {run + 1}: {rate:,.0f} req/s  p99 {p99}", flush=True)
            asyncio.run(purge(env["WAMUX_AMQP_URL"], router_queue(prefix)))
    finally:
        gateway.send_signal(signal.SIGINT)  # py-spy writes its profile when its child ends
        gateway.wait(30)
        asyncio.run(delete_topology(env["WAMUX_AMQP_URL"], prefix))
    median = statistics.median(rates)
    print(f"median of {len(rates)}: {median:,.0f} req/s (wrk -t1 -c{args.connections}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

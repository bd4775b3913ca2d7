"""End-to-end latency: signed webhook in at the gateway → AI reply accepted by the (emulated) Graph API.

Starts the whole stack as processes on the sandbox (as `make demo` does, on free ports, in a scratch database
and broker prefix), sends N customer messages one after another from N different customers, and prints
percentiles. The LLM is the sandbox stub, so this measures wamux's own path, not a model's thinking time.

    .venv/bin/python bench/e2e_latency.py [N]
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from scratch import scratch_database, text_notification

from launcher.stack import Stack

PNID = "900000000000001"
SECRET = "bench-app-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def main(n: int) -> None:
    async with scratch_database("+576015550199", PNID) as url:
        await measure(url, n)


async def measure(url: str, n: int) -> None:
    gateway, graph, llm = free_port(), free_port(), free_port()
    env = {
        "WAMUX_DATABASE_URL": url,
        "WAMUX_BROKER_PREFIX": f"bench{uuid.uuid4().hex[:6]}",
        "WAMUX_APP_SECRET": SECRET,
        "WAMUX_GRAPH_TOKEN": "bench",
        "WAMUX_GATEWAY_PORT": str(gateway),
        "WAMUX_GRAPH_BASE_URL": f"http://127.0.0.1:{graph}",
        "WAMUX_OPENAI_BASE_URL": f"http://127.0.0.1:{llm}/v1",
        "OPENAI_API_KEY": "bench",
        "WAMUX_SANDBOX_GRAPH_PORT": str(graph),
        "WAMUX_SANDBOX_LLM_PORT": str(llm),
        "WAMUX_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{gateway}/webhook/whatsapp",
        "WAMUX_LOG_LEVEL": "WARNING",
        # One message per customer, nothing to wait for: measure wamux's path, not the burst window's 1 s retry.
        "WAMUX_REPLY_BURST_WINDOW_MS": "0",
    }
    stack = Stack(env, Path(tempfile.mkdtemp(prefix="wamux-bench-")))
    await stack.start(wait_s=60)
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(n):
                customer = f"5730000{i:05d}"
                body = text_notification(PNID, "576015550199", [(customer, "hola")]).encode()
                signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                started = time.perf_counter()
                async with http.post(
                    f"{stack.gateway_url}/webhook/whatsapp", data=body, headers={"X-Hub-Signature-256": signature}
                ) as response:
                    assert response.status == 200
                while True:
                    async with http.get(f"http://127.0.0.1:{graph}/_sandbox/outbox", params={"to": customer}) as r:
                        if await r.json():
                            break
                    await asyncio.sleep(0.002)
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await stack.stop()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(f"e2e latency over {n} messages (webhook POST → reply at the Graph emulator), one of each service:")
    print(f"  p50 {q[49]:.1f} ms   p90 {q[89]:.1f} ms   p99 {q[98]:.1f} ms   max {latencies[-1]:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))

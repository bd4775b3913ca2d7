"""Router throughput on batched webhooks: updates routed per second by ONE router process.

Publishes W ``webhook.received`` envelopes of B text messages each (as the gateway would) while a single
``python -m router`` consumes them, and times from the first publish until every message is stored (and its
``message.received`` published with confirms). Scratch database and broker prefix; nothing else running.

    .venv/bin/python bench/router_throughput.py [WEBHOOKS] [BATCH]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from scratch import scratch_database, text_notification

from launcher.stack import Stack
from shared.contracts.envelope import wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging import topology
from shared.messaging.runtime import infrastructure
from shared.settings import Settings

PNID = "900000000000002"


def webhook(batch: int, seq: int) -> str:
    return text_notification(PNID, "576015550198", [(f"57300{seq:05d}{i:03d}", f"mensaje {i}") for i in range(batch)])


async def main(webhooks: int, batch: int) -> None:
    async with scratch_database("+576015550198", PNID) as url:
        conn = await asyncpg.connect(url)
        try:
            await measure(url, conn, webhooks, batch)
        finally:
            await conn.close()


async def measure(url: str, conn: asyncpg.Connection, webhooks: int, batch: int) -> None:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    settings = Settings(service="bench", database_url=url, broker_prefix=prefix)
    bodies = [webhook(batch, n) for n in range(webhooks)]
    stack = Stack(
        {"WAMUX_DATABASE_URL": url, "WAMUX_BROKER_PREFIX": prefix, "WAMUX_LOG_LEVEL": "WARNING"},
        Path(tempfile.mkdtemp(prefix="wamux-bench-")),
    )
    total = webhooks * batch
    try:
        async with infrastructure(settings) as infra:
            await stack.start(["router"], wait_s=60)
            started = time.perf_counter()
            for n, text in enumerate(bodies):
                await infra.publisher.publish(
                    wrap(WebhookReceived(body=text, received_at=datetime.now(UTC)), correlation_id=f"bench-{n}")
                )
            published = time.perf_counter() - started
            while await conn.fetchval("SELECT count(*) FROM router.messages") < total:
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            async with infra.connection.channel() as channel:
                await topology.delete(channel, topology.Topology(prefix))
    finally:
        await stack.stop()
    print(
        f"router, one process: {total} updates in {webhooks} webhooks of {batch} "
        f"(published in {published:.2f} s) routed in {elapsed:.2f} s → {total / elapsed:,.0f} updates/s"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args or [200, 50])))

"""Router throughput on batched webhooks: updates routed per second by ONE router process.

Publishes W ``webhook.received`` envelopes of B text messages each (as the gateway would) while a single
``python -m router`` consumes them, and times from the first publish until every message is stored (and its
``message.received`` published with confirms). Scratch database and broker prefix; nothing else running.

    .venv/bin/python bench/router_throughput.py [WEBHOOKS] [BATCH]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from sandbox.stack import Stack
from shared import topology
from shared.envelope import wrap
from shared.messages import WebhookReceived
from shared.migrate import migrate
from shared.runtime import infrastructure
from shared.settings import Settings

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
PNID = "900000000000002"


def webhook(batch: int, seq: int) -> str:
    now = int(time.time())
    messages = [
        {
            "from": f"57300{seq:05d}{i:03d}",
            "id": f"wamid.bench.{uuid.uuid4().hex}",
            "timestamp": str(now),
            "type": "text",
            "text": {"body": f"mensaje {i}"},
        }
        for i in range(batch)
    ]
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "576015550198", "phone_number_id": PNID},
                                "contacts": [{"profile": {"name": "B"}, "wa_id": m["from"]} for m in messages],
                                "messages": messages,
                            },
                        }
                    ],
                }
            ],
        }
    )


async def main(webhooks: int, batch: int) -> None:
    db = f"wamux_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = SERVER.rsplit("/", 1)[0] + f"/{db}"
    await migrate(url)
    client_id = uuid.uuid4()
    conn = await asyncpg.connect(url)
    await conn.execute("INSERT INTO directory.clients (id, name) VALUES ($1, 'Bench')", client_id)
    await conn.execute(
        "INSERT INTO directory.numbers (id, client_id, phone_number, phone_number_id, waba_id)"
        " VALUES ($1, $2, '+576015550198', $3, '1')",
        uuid.uuid4(),
        client_id,
        PNID,
    )
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
        await conn.close()
        await admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        await admin.close()
    print(
        f"router, one process: {total} updates in {webhooks} webhooks of {batch} "
        f"(published in {published:.2f} s) routed in {elapsed:.2f} s → {total / elapsed:,.0f} updates/s"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args or [200, 50])))

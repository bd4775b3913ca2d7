"""A scratch platform for one benchmark run: its own database (migrated, tenants made by the directory's code,
dropped afterwards), its own broker prefix, and the environment the launcher hands each process."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import asyncpg
from support import broker
from support.processes import free_port

from shared.messaging.runtime import every
from shared.migrate import migrate
from tests.support.tenants import Tenant, create_tenant, random_phone_number

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
# The local broker unless WAMUX_AMQP_URL names another (a broker of the benchmark's own on a busy machine).
AMQP_URL = os.environ.get("WAMUX_AMQP_URL", broker.AMQP_URL)
APP_SECRET = "bench-app-secret"
# Enough free conversations that every run counts the common case (a free window), never the quota's end.
FREE_QUOTA = 10**9


def database_url(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + f"/{name}"


async def create_database(template: str | None = None) -> str:
    """A new database (a copy of ``template`` when given); its name."""
    name = f"wamux_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(SERVER)
    try:
        # Names are ours (hex), never input.
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(SERVER)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A migrated database of its own, dropped afterwards; its name."""
    name = await create_database()
    try:
        await migrate(database_url(name))
        yield name
    finally:
        await drop_database(name)


async def seed_tenants(url: str, count: int) -> list[Tenant]:
    """``count`` clients with one active number each, each number on a WABA of its own (a WABA shared by two
    clients would make the router's tenant ambiguous)."""
    return [
        await create_tenant(
            url,
            name=f"Bench {n}",
            free_quota=FREE_QUOTA,
            phone_number=random_phone_number(),
            phone_number_id=str(random.randint(10**14, 10**15 - 1)),
            waba_id=str(random.randint(10**14, 10**15 - 1)),
        )
        for n in range(count)
    ]


@dataclass(frozen=True)
class Ports:
    gateway: int
    graph: int
    llm: int

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port())

    @property
    def graph_url(self) -> str:
        return f"http://127.0.0.1:{self.graph}"


def platform_env(
    db_name: str,
    prefix: str,
    ports: Ports,
    *,
    number_rate_per_s: float,
    status_webhooks: bool = True,
    burst_window_ms: int = 0,
) -> dict[str, str]:
    """What ``launcher.stack.Stack`` hands the processes (as ``make demo`` does, on free ports). The sender's and
    the emulator's per-number throughput are the same tier, as they are with Meta."""
    webhook_url = f"http://127.0.0.1:{ports.gateway}/webhook/whatsapp" if status_webhooks else ""
    return {
        "WAMUX_DATABASE_URL": database_url(db_name),
        "WAMUX_AMQP_URL": AMQP_URL,
        "WAMUX_BROKER_PREFIX": prefix,
        "WAMUX_APP_SECRET": APP_SECRET,
        "WAMUX_GRAPH_TOKEN": "bench",
        "WAMUX_GATEWAY_PORT": str(ports.gateway),
        "WAMUX_GRAPH_BASE_URL": ports.graph_url,
        "WAMUX_OPENAI_BASE_URL": f"http://127.0.0.1:{ports.llm}/v1",
        "OPENAI_API_KEY": "bench",
        "WAMUX_SANDBOX_GRAPH_PORT": str(ports.graph),
        "WAMUX_SANDBOX_LLM_PORT": str(ports.llm),
        "WAMUX_SANDBOX_WEBHOOK_URL": webhook_url,
        "WAMUX_SANDBOX_THROUGHPUT_PER_S": str(number_rate_per_s),
        "WAMUX_NUMBER_RATE_PER_S": str(number_rate_per_s),
        # WAMUX_BENCH_LOG_LEVEL=INFO to see what the processes did (their logs: the paths printed on a failure).
        "WAMUX_LOG_LEVEL": os.environ.get("WAMUX_BENCH_LOG_LEVEL", "WARNING"),
        # 0: one message per customer has nothing to wait for; the default 1 s window would be measured instead.
        "WAMUX_REPLY_BURST_WINDOW_MS": str(burst_window_ms),
    }


@asynccontextmanager
async def autovacuum_stand_in(url: str, every_s: float) -> AsyncIterator[None]:
    """A server with autovacuum off (``SHOW autovacuum``; this machine's is) keeps every deleted and updated row:
    the router's outbox (a row in and out per event), the sends, the rate buckets grow dead rows by the ten
    thousand a minute, and PostgreSQL's CPU per message with them (at 100 msg/s for 300 s, 4.2 ms a message
    against 2.6 with a VACUUM every 20 s). Production's servers run autovacuum (PostgreSQL's default): here a
    VACUUM of the scratch database every ``every_s`` seconds stands in for it, its CPU counted as PostgreSQL's."""
    conn = await asyncpg.connect(url)
    try:
        if every_s <= 0 or await conn.fetchval("SHOW autovacuum") == "on":
            yield
            return
        print(f"PostgreSQL's autovacuum is off here: the benchmark runs VACUUM every {every_s:g} s in its place")
        async with every(every_s, lambda: conn.execute("VACUUM"), "autovacuum-stand-in"):
            yield
    finally:
        await conn.close()


def new_prefix() -> str:
    return f"bench{uuid.uuid4().hex[:8]}"


async def register_with_emulator(graph_url: str, tenants: list[Tenant]) -> None:
    """The emulator learns each number (its display number and WABA), as Meta knows a client's number."""
    async with aiohttp.ClientSession() as session:
        for tenant in tenants:
            number = {
                "phone_number_id": tenant.phone_number_id,
                "display_phone_number": tenant.phone_number.lstrip("+"),
                "waba_id": tenant.waba_id,
            }
            async with session.post(f"{graph_url}/_sandbox/numbers", json=number) as answer:
                answer.raise_for_status()

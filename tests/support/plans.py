"""The generic plan of a statement on tables as a new deployment has them (empty, never analysed): what a pool
that keeps prepared statements may run long after the tables have grown (``shared.db``: a statement lives 30 s, and
the ai-worker asks for generic plans outright)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.support.databases import migrated_database


@asynccontextmanager
async def new_deployment(server_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a database of its own, migrated and empty."""
    async with migrated_database(server_url) as url:
        conn = await asyncpg.connect(url)
        try:
            yield conn
        finally:
            await conn.close()


async def generic_plan(conn: asyncpg.Connection, query: str) -> list[str]:
    """``EXPLAIN EXECUTE`` of ``query`` prepared with its parameters unknown (NULL): the generic plan itself, not
    one made for the values at hand."""
    params = max((int(n) for n in re.findall(r"\$(\d+)", query)), default=0)
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE planned AS {query}")
    try:
        args = f"({', '.join(['NULL'] * params)})" if params else ""
        return [row[0] for row in await conn.fetch(f"EXPLAIN EXECUTE planned{args}")]
    finally:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):  # not to hide why EXPLAIN failed
            await conn.execute("DEALLOCATE planned")


def scans(plan: list[str], table: str) -> list[str]:
    """The index each scan of ``table`` in ``plan`` uses, a sequential scan as ``seq``."""
    found = []
    for line in plan:
        if index := re.search(rf"Index (?:Only )?Scan(?: Backward)? using (\w+) on {table}\b", line):
            found.append(index[1])
        elif re.search(rf"(?:Seq|Bitmap Heap) Scan on {table}\b", line):
            found.append("seq" if "Seq Scan" in line else "bitmap")
    return found

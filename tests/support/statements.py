"""A pool whose statements are kept as they are sent: what a test counts to say "one statement per batch"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from shared import db
from shared.messaging.runtime import Infrastructure


@asynccontextmanager
async def watched_pool(infra: Infrastructure, max_size: int = 4) -> AsyncIterator[tuple[asyncpg.Pool, list[str]]]:
    """A pool like the services' (their connection class and codecs) on the test's database, and the list its
    statements are appended to."""
    statements: list[str] = []

    async def init(conn: asyncpg.Connection) -> None:
        await db.init_connection(conn)
        conn.add_query_logger(lambda record: statements.append(record.query))

    url = infra.settings.database_url.get_secret_value()
    async with asyncpg.create_pool(
        url, min_size=1, max_size=max_size, init=init, connection_class=db.Connection
    ) as pool:
        yield pool, statements

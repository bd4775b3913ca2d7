"""PostgreSQL access: one asyncpg pool per process, JSON decoded to Python on the way out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from shared.settings import Settings


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@asynccontextmanager
async def pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=1,
        max_size=settings.db_pool_max,
        init=_init_connection,
        server_settings={"application_name": settings.service},
    )
    try:
        yield created
    finally:
        await created.close()

"""A database of its own, every migration applied, dropped afterwards: the test session's, or a test's that needs
tables as a new deployment has them (empty, never analysed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@asynccontextmanager
async def migrated_database(server_url: str) -> AsyncIterator[str]:
    """A new database on the server at ``server_url``, migrated; its URL."""
    from shared.migrate import migrate

    name = f"wamux_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        await migrate(url)
        yield url
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

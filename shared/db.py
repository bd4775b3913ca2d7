"""PostgreSQL access: one asyncpg pool per process, JSON decoded to Python on the way out.

A connection goes back to the pool without asyncpg's default reset query (``pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL``): a round trip on every release, about a dozen per customer message, for session state
wamux does not keep. wamux's code takes no session state but session advisory locks, and a connection that took
one says so (:meth:`Connection.hold_session_locks`): its release then gives them back. An open transaction is
still rolled back on release, as asyncpg always does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from shared.settings import Settings


class Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no types
    """asyncpg's connection, reset on release only as far as it needs to be."""

    _holds_session_locks = False

    def hold_session_locks(self) -> None:
        """This connection may hold session advisory locks: released with it when it returns to the pool."""
        self._holds_session_locks = True

    def get_reset_query(self) -> str:
        if self._holds_session_locks:
            self._holds_session_locks = False
            return "SELECT pg_advisory_unlock_all()"
        return ""


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
        connection_class=Connection,
        server_settings={"application_name": settings.service},
    )
    try:
        yield created
    finally:
        await created.close()

"""PostgreSQL access: one asyncpg pool per process, JSON decoded to Python on the way out.

A connection goes back to the pool without asyncpg's default reset query (``pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL``): a round trip on every release, about a dozen per customer message, for session state
wamux does not keep. wamux's code takes no session state but session advisory locks, and a connection that took
one says so (:meth:`Connection.hold_session_locks`): its release then gives them back. An open transaction is
still rolled back on release, as asyncpg always does.

A prepared statement's plan is made again every ``STATEMENT_LIFETIME_S`` (asyncpg prepares each statement once per
connection and keeps it): PostgreSQL keeps a generic plan until something invalidates it, and one made while the
tables were nearly empty (a new deployment's first minute, any benchmark's) stays a sequential scan as they grow.
Measured at 50 msg/s on a fresh database: the router's statements cost PostgreSQL 4.0 s of CPU per 30 s with
plans kept, 1.8 s with plans remade every 15 s. A pool may ask for generic plans only (``generic_plans``): for a
service whose statements are lookups by id through the read views, where planning each execution anew (custom
plans, which PostgreSQL keeps choosing for such statements) costs several times the execution — the ai-worker's
conversation statements plan in 0.9 and 2.4 ms and run in 0.1 and 0.5 ms.
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


async def init_connection(connection: asyncpg.Connection) -> None:
    """What every wamux connection is given: JSON and JSONB decoded to Python and encoded from it."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


STATEMENT_LIFETIME_S = 30


@asynccontextmanager
async def pool(
    settings: Settings, *, generic_plans: bool = False, statement_lifetime_s: float = STATEMENT_LIFETIME_S
) -> AsyncIterator[asyncpg.Pool]:
    server_settings = {"application_name": settings.service}
    if generic_plans:
        server_settings["plan_cache_mode"] = "force_generic_plan"
    created = await asyncpg.create_pool(
        settings.database_url.get_secret_value(),
        min_size=1,
        max_size=settings.db_pool_max,
        init=init_connection,
        connection_class=Connection,
        server_settings=server_settings,
        max_cached_statement_lifetime=statement_lifetime_s,
    )
    try:
        yield created
    finally:
        await created.close()

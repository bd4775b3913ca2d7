"""``shared.db.pool``: a connection's release costs no reset round trip, unless it said it holds session locks."""

from __future__ import annotations

import asyncpg

from shared import db
from shared.settings import Settings

LOCK_KEY = 424242


async def _held_by_others(url: str, key: int) -> int:
    """Session advisory locks on ``key`` as another connection sees them."""
    other = await asyncpg.connect(url)
    try:
        return int(
            await other.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted", key
            )
        )
    finally:
        await other.close()


async def test_a_released_connection_keeps_no_session_lock_it_said_it_holds(settings: Settings) -> None:
    one = settings.model_copy(update={"db_pool_max": 1})
    async with db.pool(one) as pool:
        async with pool.acquire() as conn:
            conn.hold_session_locks()
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
            assert await _held_by_others(settings.database_url.get_secret_value(), LOCK_KEY) == 1
        assert await _held_by_others(settings.database_url.get_secret_value(), LOCK_KEY) == 0
        async with pool.acquire() as conn:  # the same connection: it no longer holds the lock
            assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY) is True
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def test_an_ordinary_release_runs_no_reset_statement(settings: Settings) -> None:
    """Without hold_session_locks the release sends nothing: session state set on purpose is still there after."""
    one = settings.model_copy(update={"db_pool_max": 1})
    async with db.pool(one) as pool:
        async with pool.acquire() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute("SELECT set_config('application_name', 'marked', false)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # one connection, handed back
            # asyncpg's default reset (RESET ALL) would have put it back to the pool's application_name
            assert await conn.fetchval("SELECT current_setting('application_name')") == "marked"


async def test_an_open_transaction_is_still_rolled_back_on_release(settings: Settings) -> None:
    one = settings.model_copy(update={"db_pool_max": 1})
    async with db.pool(one) as pool:
        conn = await pool.acquire()
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        await pool.release(conn)
        assert await _held_by_others(settings.database_url.get_secret_value(), LOCK_KEY) == 0
        async with pool.acquire() as again:
            assert not again.is_in_transaction()

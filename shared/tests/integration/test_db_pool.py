"""``shared.db.pool``: a connection's release costs no reset round trip, unless it said it holds session locks."""

from __future__ import annotations

import asyncio

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


async def test_a_pool_asks_for_generic_plans_only_when_told(settings: Settings) -> None:
    async with db.pool(settings, generic_plans=True) as generic, db.pool(settings) as ordinary:
        assert await generic.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        assert await ordinary.fetchval("SHOW plan_cache_mode") == "auto"


async def test_a_prepared_statement_is_prepared_again_once_its_lifetime_is_over(settings: Settings) -> None:
    """So that its plan follows the tables' growth: a plan made while they were empty is not kept for good."""
    query = "SELECT count(*) FROM pg_class WHERE relname = $1"
    prepared = "SELECT prepare_time FROM pg_prepared_statements WHERE statement = $1"
    one = settings.model_copy(update={"db_pool_max": 1})
    async with db.pool(one, statement_lifetime_s=0.5) as pool, pool.acquire() as conn:
        await conn.fetchval(query, "pg_class")
        first = await conn.fetch(prepared, query)
        await conn.fetchval(query, "pg_class")
        assert await conn.fetch(prepared, query) == first  # within its lifetime: the same statement
        await asyncio.sleep(1.0)
        await conn.fetchval(query, "pg_class")
        again = await conn.fetch(prepared, query)
    assert len(first) == len(again) == 1
    assert again[0]["prepare_time"] > first[0]["prepare_time"]

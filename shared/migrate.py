"""Versioned SQL migrations, applied in order by one command: ``python -m shared.migrate``.

Each file in ``shared/migrations`` is applied once, in its own transaction, and its checksum recorded; a file
that changed after it was applied is refused (migrations never rewrite history: add a new one). An advisory
lock lets several processes start at once without racing.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from importlib import resources

import asyncpg
from pydantic import ValidationError

from shared.logging import configure_logging, get_logger
from shared.settings import Settings, refused

log = get_logger(__name__)
_LOCK_KEY = 0x77616D7578  # "wamux"


class MigrationChanged(Exception):
    pass


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("shared") / "migrations"
    files = sorted((p.name, p) for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for name, p in files]


async def migrate(database_url: str) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    connection = await asyncpg.connect(database_url)
    applied_now: list[str] = []
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS public.wamux_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"]: r["checksum"] for r in await connection.fetch("SELECT * FROM public.wamux_migrations")}
        for version, sql in migration_files():
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise MigrationChanged(f"migration {version} changed after it was applied: add a new one")
                continue
            async with connection.transaction():
                await connection.execute(sql)
                await connection.execute(
                    "INSERT INTO public.wamux_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                )
            applied_now.append(version)
            log.info("migration.applied", version=version)
    finally:
        await connection.close()
    return applied_now


def main() -> None:
    try:
        settings = Settings(service="migrate")
    except ValidationError as exc:
        sys.exit(f"error: bad setting: {refused(exc, Settings)}")
    configure_logging(settings.service, settings.log_level)
    applied = asyncio.run(migrate(settings.database_url.get_secret_value()))
    log.info("migrations.done", applied=len(applied))


if __name__ == "__main__":
    main()

"""SQL of the router's own schema (``router``), one module per thing it stores; tenants are resolved through the
directory's read views (``directory_read``), never its tables."""

from __future__ import annotations

import asyncpg

# What PostgreSQL refuses because of the data itself, not the moment (an outage): retrying cannot help, so the
# part is parked with the reason instead, and its neighbours are stored without it.
UNSTORABLE = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    UnicodeEncodeError,
)

"""The router's lookups by wamid on tables as a new deployment has them (empty, never analysed): a prepared
statement's plan made then is kept while the table grows, so it must be the primary key's, never a scan."""

from __future__ import annotations

from router.store import statuses
from tests.support import plans


async def test_the_senders_of_statuses_are_found_by_the_primary_key(postgres_server_url: str) -> None:
    async with plans.new_deployment(postgres_server_url) as conn:
        plan = await plans.generic_plan(conn, statuses.SENDERS)

    assert plans.scans(plan, "messages") == ["messages_pkey"]

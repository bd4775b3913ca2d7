"""The plans of the worker's hot statements on tables as a new deployment has them: empty and never analysed.

The worker's pool keeps generic plans (``serve(..., generic_plans=True)``), each made at a statement's first uses and
kept for its lifetime: a plan made while the tables are nearly empty is still the one that runs once they hold
thousands of messages. A lookup by wamid must then use the primary key, never the index of a client's messages,
which it would walk to the end (every message the client ever had) for each message asked about.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from ai_worker import conversation, reads
from tests.support import plans


@pytest.fixture
async def new_deployment(postgres_server_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with plans.new_deployment(postgres_server_url) as conn:
        yield conn


async def test_arrivals_find_each_message_by_its_wamid(new_deployment: asyncpg.Connection) -> None:
    plan = await plans.generic_plan(new_deployment, reads._ARRIVALS)

    assert plans.scans(plan, "messages") == ["messages_pkey"]


async def test_standings_find_messages_by_their_wamid_or_their_conversation(
    new_deployment: asyncpg.Connection,
) -> None:
    scans = plans.scans(await plans.generic_plan(new_deployment, conversation._STANDING), "messages")

    assert scans, "the plan reads router.messages"
    assert set(scans) <= {"messages_pkey", "messages_conversation_seq_idx"}, scans
    assert "messages_pkey" in scans  # the message asked about, and the messages that triggered earlier replies

"""The plans of the worker's hot statements on tables as a new deployment has them: empty and never analysed.

The worker's pool keeps generic plans (``serve(..., generic_plans=True)``), each made at a statement's first uses and
kept for its lifetime: a plan made while the tables are nearly empty is still the one that runs once they hold
thousands of messages. A lookup by wamid must then use the primary key, never the index of a client's messages,
which it would walk to the end (every message the client ever had) for each message asked about.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ai_worker import conversation, reads
from tests.support.databases import migrated_database


@pytest.fixture
async def new_deployment(postgres_server_url: str) -> AsyncIterator[asyncpg.Connection]:
    async with migrated_database(postgres_server_url) as url:
        conn = await asyncpg.connect(url, server_settings={"plan_cache_mode": "force_generic_plan"})
        try:
            yield conn
        finally:
            await conn.close()


def message_scans(plan: list[str]) -> list[str]:
    """The index each scan of router.messages in ``plan`` uses (a sequential scan as ``seq``)."""
    scans = []
    for line in plan:
        if found := re.search(r"Index (?:Only )?Scan(?: Backward)? using (\w+) on messages\b", line):
            scans.append(found[1])
        elif re.search(r"Seq Scan on messages\b", line):
            scans.append("seq")
    return scans


ASKED = [uuid.uuid4(), uuid.uuid4()], ["pnid-1", "pnid-2"], ["57300", "57301"], ["wamid.a", "wamid.b"]


async def test_arrivals_find_each_message_by_its_wamid(new_deployment: asyncpg.Connection) -> None:
    turns = [f"{c}:{p}:{w}" for c, p, w in zip(*ASKED[:3], strict=True)]
    explained = await new_deployment.fetch("EXPLAIN " + reads._ARRIVALS, *ASKED, 2.0, turns, False)

    assert message_scans([row[0] for row in explained]) == ["messages_pkey"]


async def test_standings_find_messages_by_their_wamid_or_their_conversation(
    new_deployment: asyncpg.Connection,
) -> None:
    explained = await new_deployment.fetch(
        "EXPLAIN " + conversation._STANDING,
        *ASKED,
        conversation.PENDING_HORIZON,
        sorted(conversation.SILENT_TYPES),
        20,
    )
    scans = message_scans([row[0] for row in explained])

    assert scans, "the plan reads router.messages"
    assert set(scans) <= {"messages_pkey", "messages_conversation_seq_idx"}, scans
    assert "messages_pkey" in scans  # the message asked about, and the messages that triggered earlier replies

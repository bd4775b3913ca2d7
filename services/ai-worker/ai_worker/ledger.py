"""The ai-worker's own schema (``ai_worker``): which customer messages each reply answers, and what it sent.

Recorded (committed) before anything is published, so that a redelivered message finds its reply here and
publishes the very same commands again, and a message is never answered twice (``answers.wamid`` is unique).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import asyncpg

from shared.contracts.envelope import derived_id
from shared.contracts.messages import MessageReceived, ReplyPaused, SendMessage


@dataclass(frozen=True)
class Reply:
    id: uuid.UUID
    trigger_wamid: str
    kind: Literal["reply", "paused"]
    answers: tuple[str, ...]  # oldest first
    parts: tuple[str, ...] = ()  # what WhatsApp gets, in order; none when paused
    text: str | None = None  # the whole reply as written
    personality_version: int | None = None  # the client's personality version that wrote it (directory)

    def send_ids(self) -> list[uuid.UUID]:
        return [part_send_id(self.id, n) for n in range(1, len(self.parts) + 1)]


def reply_id(trigger_wamid: str, kind: Literal["reply", "paused"]) -> uuid.UUID:
    """The id of the first thing published for a trigger: today's ``message.send`` id, or ``reply.paused``'s."""
    return derived_id(SendMessage.TYPE if kind == "reply" else ReplyPaused.TYPE, trigger_wamid)


def part_send_id(first: uuid.UUID, part: int) -> uuid.UUID:
    """Part 1 keeps the reply's id (a redelivery stays the same send); the next ones derive from it."""
    return first if part == 1 else derived_id(SendMessage.TYPE, str(first), "part", str(part))


# One statement, so one round trip and atomic on its own: the three inserts of every reply commit together or not
# at all (the foreign keys are checked at the statement's end, when the replies' rows are there).
_RECORD = """
WITH reply AS (
    INSERT INTO ai_worker.replies
        (id, client_id, phone_number_id, wa_id, trigger_wamid, kind, text, personality_version)
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])),
answered AS (
    INSERT INTO ai_worker.answers (wamid, reply_id, position) SELECT * FROM unnest($9::text[], $10::uuid[], $11::int[]))
INSERT INTO ai_worker.reply_parts (send_id, reply_id, part, text)
SELECT * FROM unnest($12::uuid[], $13::uuid[], $14::int[], $15::text[])"""


async def record(conn: asyncpg.Connection, received: MessageReceived, reply: Reply) -> None:
    """The reply and what it answers and sends (the reply an earlier :func:`conversation.standings` finds)."""
    await record_all(conn, [(received, reply)])


async def record_all(conn: asyncpg.Connection, replies: Sequence[tuple[MessageReceived, Reply]]) -> None:
    """:func:`record` for several replies in one statement: all of them, or none."""
    columns: list[list[object]] = [[] for _ in range(15)]

    def add(first: int, *values: object) -> None:
        for offset, value in enumerate(values):
            columns[first + offset].append(value)

    for received, reply in replies:
        add(0, reply.id, received.client_id, received.phone_number_id, received.wa_id, reply.trigger_wamid)
        add(5, reply.kind, reply.text, reply.personality_version)
        for position, wamid in enumerate(reply.answers, start=1):
            add(8, wamid, reply.id, position)
        for part, (send_id, text) in enumerate(zip(reply.send_ids(), reply.parts, strict=True), start=1):
            add(11, send_id, reply.id, part, text)
    await conn.execute(_RECORD, *columns)

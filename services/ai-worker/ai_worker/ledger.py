"""The ai-worker's own schema (``ai_worker``): which customer messages each reply answers, and what it sent.

Recorded (committed) before anything is published, so that a redelivered message finds its reply here and
publishes the very same commands again, and a message is never answered twice (``answers.wamid`` is unique).
"""

from __future__ import annotations

import uuid
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


# One statement, so one round trip and atomic on its own: the three inserts commit together or not at all (the
# foreign keys are checked at the statement's end, when the reply's row is there).
_RECORD = """
WITH reply AS (
    INSERT INTO ai_worker.replies
        (id, client_id, phone_number_id, wa_id, trigger_wamid, kind, text, personality_version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)),
answered AS (
    INSERT INTO ai_worker.answers (wamid, reply_id, position)
    SELECT wamid, $1, position FROM unnest($9::text[]) WITH ORDINALITY AS a(wamid, position))
INSERT INTO ai_worker.reply_parts (send_id, reply_id, part, text)
SELECT send_id, $1, part, text FROM unnest($10::uuid[], $11::text[]) WITH ORDINALITY AS p(send_id, text, part)"""


async def record(conn: asyncpg.Connection, received: MessageReceived, reply: Reply) -> None:
    """The reply and what it answers and sends (the reply an earlier :func:`conversation.standing` finds)."""
    await conn.execute(
        _RECORD,
        reply.id,
        received.client_id,
        received.phone_number_id,
        received.wa_id,
        reply.trigger_wamid,
        reply.kind,
        reply.text,
        reply.personality_version,
        list(reply.answers),
        reply.send_ids(),
        list(reply.parts),
    )

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


async def answered_by(conn: asyncpg.Connection, received: MessageReceived) -> Reply | None:
    """The reply that answered this message, if one did."""
    row = await conn.fetchrow(
        """SELECT r.id, r.trigger_wamid, r.kind, r.text,
                  ARRAY(SELECT x.wamid FROM ai_worker.answers x WHERE x.reply_id = r.id ORDER BY x.position) AS answers,
                  ARRAY(SELECT p.text FROM ai_worker.reply_parts p WHERE p.reply_id = r.id ORDER BY p.part) AS parts
             FROM ai_worker.answers a JOIN ai_worker.replies r ON r.id = a.reply_id
            WHERE a.wamid = $1 AND r.client_id = $2 AND r.phone_number_id = $3 AND r.wa_id = $4""",
        received.wamid,
        received.client_id,
        received.phone_number_id,
        received.wa_id,
    )
    if row is None:
        return None
    return Reply(row["id"], row["trigger_wamid"], row["kind"], tuple(row["answers"]), tuple(row["parts"]), row["text"])


async def record(conn: asyncpg.Connection, received: MessageReceived, reply: Reply) -> None:
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO ai_worker.replies
                   (id, client_id, phone_number_id, wa_id, trigger_wamid, kind, text, personality_version)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            reply.id,
            received.client_id,
            received.phone_number_id,
            received.wa_id,
            reply.trigger_wamid,
            reply.kind,
            reply.text,
            reply.personality_version,
        )
        await conn.execute(
            """INSERT INTO ai_worker.answers (wamid, reply_id, position)
               SELECT wamid, $2, position FROM unnest($1::text[]) WITH ORDINALITY AS a(wamid, position)""",
            list(reply.answers),
            reply.id,
        )
        if reply.parts:
            await conn.execute(
                """INSERT INTO ai_worker.reply_parts (send_id, reply_id, part, text)
                   SELECT send_id, $3, part, text
                     FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS p(send_id, text, part)""",
                reply.send_ids(),
                list(reply.parts),
                reply.id,
            )

"""A number's change of owner: the only way it happens, recorded in ``directory.number_moves`` and announced.

The number's past (usage, conversations, contacts, media) stays with the client it belonged to. The announcement
(``number.moved``) takes its id from the recorded move, so a move whose announcement failed is completed by
running it again: the same event, never a second move.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from directory.numbers import NotInDirectory
from shared.contracts.directory import NumberMoved
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.messaging.broker import Publisher


@dataclass(frozen=True)
class Move:
    """One change of a number's owner, as recorded in ``directory.number_moves``."""

    id: uuid.UUID
    phone_number_id: str
    phone_number: str
    from_client_id: uuid.UUID
    to_client_id: uuid.UUID
    moved_at: datetime


async def move_number(
    conn: asyncpg.Connection,
    *,
    phone_number_id: str,
    to_client_id: uuid.UUID,
    free_quota: int | None = None,
    display_name: str | None = None,
    waba_id: str | None = None,
) -> Move | None:
    """Give a number to another client in one transaction, and record the move; the number's past (usage,
    conversations, contacts) stays with the client it belonged to. ``free_quota``, ``display_name`` and
    ``waba_id`` are the new owner's when given, else kept.

    Moving a number again to the client a move gave it to returns that move (a retried move is the same move);
    ``None`` when the client holds the number without having been given it by a move: nothing to do.
    """
    async with conn.transaction():
        number = await conn.fetchrow(
            "SELECT client_id, phone_number, free_quota FROM directory.numbers WHERE phone_number_id = $1 FOR UPDATE",
            phone_number_id,
        )
        if number is None:
            raise NotInDirectory(f"phone_number_id {phone_number_id} is not in the directory: use add-number")
        if not await conn.fetchval("SELECT true FROM directory.clients WHERE id = $1", to_client_id):
            raise NotInDirectory(f"client {to_client_id} does not exist: create it first (add-client)")
        if number["client_id"] == to_client_id:
            last = await conn.fetchrow(
                """SELECT id, phone_number_id, phone_number, from_client_id, to_client_id, moved_at
                     FROM directory.number_moves WHERE phone_number_id = $1 ORDER BY moved_at DESC LIMIT 1""",
                phone_number_id,
            )
            return Move(**dict(last)) if last is not None and last["to_client_id"] == to_client_id else None
        move = await conn.fetchrow(
            """INSERT INTO directory.number_moves
                   (id, phone_number_id, phone_number, from_client_id, to_client_id, from_free_quota)
               VALUES ($1, $2, $3, $4, $5, $6)
               RETURNING id, phone_number_id, phone_number, from_client_id, to_client_id, moved_at""",
            uuid.uuid4(),
            phone_number_id,
            number["phone_number"],
            number["client_id"],
            to_client_id,
            number["free_quota"],
        )
        await conn.execute(
            """UPDATE directory.numbers SET client_id = $2, free_quota = COALESCE($3, free_quota),
                      display_name = COALESCE($4, display_name), waba_id = COALESCE($5, waba_id)
                WHERE phone_number_id = $1""",
            phone_number_id,
            to_client_id,
            free_quota,
            display_name,
            waba_id,
        )
    return Move(**dict(move))


async def move(
    pool: asyncpg.Pool,
    publisher: Publisher,
    *,
    phone_number_id: str,
    to_client_id: uuid.UUID,
    free_quota: int | None = None,
    display_name: str | None = None,
    waba_id: str | None = None,
) -> Move | None:
    """Move the number, then announce it; ``None`` when the client already held it and nothing moved."""
    async with pool.acquire() as conn:
        moved = await move_number(
            conn,
            phone_number_id=phone_number_id,
            to_client_id=to_client_id,
            free_quota=free_quota,
            display_name=display_name,
            waba_id=waba_id,
        )
    if moved is not None:
        await publisher.publish(number_moved(moved))
    return moved


def number_moved(moved: Move) -> Envelope[NumberMoved]:
    event = NumberMoved(
        phone_number_id=moved.phone_number_id,
        phone_number=moved.phone_number,
        from_client_id=moved.from_client_id,
        to_client_id=moved.to_client_id,
        moved_at=moved.moved_at,
    )
    # The id comes from the recorded move: a retried move publishes the same event, a later move a new one.
    return wrap(
        event,
        id=derived_id(event.TYPE, str(moved.id)),
        tenant_id=moved.to_client_id,
        correlation_id=f"move-{moved.id}",
        occurred_at=moved.moved_at,
    )

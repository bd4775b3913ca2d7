"""Messages and statuses of one webhook, stored on the caller's connection with their events staged on ``out``.

Batched on purpose: one round trip inserts every message (``wamid`` unique) and the events of the new ones are
staged for the outbox of the same transaction (:mod:`shared.messaging.batch`); once it commits they are
published. A consumer never hears of a message it cannot read yet, and a crash in between leaves the events to
the relay. What PostgreSQL refuses costs only itself: the part is undone in a savepoint and stored one by one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from router.events import message_received, status_changed
from router.store import UNSTORABLE, messages, statuses, tenants
from router.webhook.notification import MessageUpdate, StatusUpdate, Unparsed
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.messaging.batch import Outgoing

log = get_logger(__name__)


async def record_messages(
    conn: asyncpg.Connection,
    out: Outgoing,
    batch: Sequence[MessageUpdate],
    cause: Envelope[Any],
    original_sha256: str | None = None,
) -> list[Unparsed]:
    """Store and announce the new messages; return those that cannot be (number unknown or not active, refused by
    PostgreSQL), for parking. One refused message costs only itself: the batch is then stored one by one."""
    try:
        async with out.savepoint(conn):
            waiting = await _record_messages(conn, out, batch, cause, original_sha256)
    except UNSTORABLE as exc:
        if len(batch) > 1:
            return [part for u in batch for part in await record_messages(conn, out, [u], cause, original_sha256)]
        (update,) = batch
        reason = f"message could not be stored: {type(exc).__name__}: {str(exc)[:200]}"
        return [Unparsed(reason, _replayable(update, messages=[update.message.raw]), update.metadata.phone_number_id)]
    return waiting


async def record_statuses(
    conn: asyncpg.Connection, out: Outgoing, batch: Sequence[StatusUpdate], cause: Envelope[Any]
) -> list[Unparsed]:
    """As :func:`record_messages`, for Meta's statuses of the business's messages."""
    try:
        async with out.savepoint(conn):
            waiting = await _record_statuses(conn, out, batch, cause)
    except UNSTORABLE as exc:
        if len(batch) > 1:
            return [part for u in batch for part in await record_statuses(conn, out, [u], cause)]
        (update,) = batch
        reason = f"status could not be stored: {type(exc).__name__}: {str(exc)[:200]}"
        status = update.replayable
        return [Unparsed(reason, _replayable(update, statuses=[status]), update.metadata.phone_number_id)]
    return waiting


async def _record_messages(
    conn: asyncpg.Connection,
    out: Outgoing,
    batch: Sequence[MessageUpdate],
    cause: Envelope[Any],
    original_sha256: str | None,
) -> list[Unparsed]:
    numbers = await tenants.numbers(conn, {u.metadata.phone_number_id for u in batch}, out.memo)
    clients = numbers.active
    # The same wamid twice in one POST is one message: the first occurrence stands.
    known = list({u.message.id: u for u in reversed(batch) if u.metadata.phone_number_id in clients}.values())[::-1]
    found = [
        _Message(messages.Inbound(u, clients[u.metadata.phone_number_id], original_sha256), cause, out) for u in known
    ]
    await out.together(conn, _MESSAGES, _insert_messages, found)  # a refusal at the batch's end: alone, again
    return [
        Unparsed(numbers.reason(pnid), _replayable(u, messages=[u.message.raw]), pnid)
        for u in batch
        if (pnid := u.metadata.phone_number_id) not in clients
    ]


async def _record_statuses(
    conn: asyncpg.Connection, out: Outgoing, batch: Sequence[StatusUpdate], cause: Envelope[Any]
) -> list[Unparsed]:
    numbers = await tenants.numbers(conn, {u.metadata.phone_number_id for u in batch}, out.memo)
    in_directory = numbers.held
    held = [u for u in batch if u.metadata.phone_number_id in in_directory]
    # A status belongs to the client whose message it reports, even if the number has changed owner since.
    senders = await statuses.senders_of(conn, [u.status.id for u in held], out.memo)
    # A waiting (pending, suspended) number's statuses of messages its client sent through wamux are recorded:
    # they report what already left (billing's delivered conversations and Meta's pricing, the sender's proof
    # after a crash). Only a status of a message wamux never sent waits, as that number's messages do.
    routed = [u for u in held if u.metadata.phone_number_id in numbers.active or u.status.id in senders]
    known = list({(u.status.id, u.status.status): u for u in reversed(routed)}.values())[::-1]
    owners = [senders.get(u.status.id) or numbers.active[u.metadata.phone_number_id] for u in known]
    found = [_Status(u, owner, cause, out) for u, owner in zip(known, owners, strict=True)]
    await out.together(conn, "router.statuses", _insert_statuses, found)
    kept = {id(u) for u in routed}
    return [_waiting_status(u, numbers.reason(u.metadata.phone_number_id)) for u in batch if id(u) not in kept]


@dataclass(frozen=True)
class _Status:
    """A status to store at the end of the batch, and where its event goes if it is new."""

    update: StatusUpdate
    owner: uuid.UUID
    cause: Envelope[Any]
    out: Outgoing


@dataclass(frozen=True)
class _Message:
    """A customer message to store, and where its event goes if it is new."""

    inbound: messages.Inbound
    cause: Envelope[Any]
    out: Outgoing


_MESSAGES = "router.messages"  # in a batch's memo: the customer messages its effects collected, not stored yet


async def store_collected_messages(conn: asyncpg.Connection, out: Outgoing) -> None:
    """Store now the customer messages a batch has collected so far, before a row that must follow them in
    ``router.messages`` (``seq`` orders the messages of one second: a coexistence echo)."""
    collected: list[_Message] | None = out.memo.get(_MESSAGES)
    if collected:
        await _insert_messages(conn, list(collected))
        collected.clear()


async def _insert_messages(conn: asyncpg.Connection, found: list[_Message]) -> None:
    """Store the messages (of a webhook, or of a batch's webhooks once its effects have run: nothing in the batch
    reads them back, and a row that must follow them calls :func:`store_collected_messages` first), each announced
    on its own webhook's ``out``; the same message twice by the first."""
    new = await messages.insert_inbound(conn, [m.inbound for m in found])
    for m in found:
        update = m.inbound.update
        if update.message.id in new:
            new.discard(update.message.id)
            m.out.publish(message_received(update, m.inbound.client_id, m.cause))
            log.debug("message.received", wamid=update.message.id, message_type=update.message.type)
        else:
            log.info("message.duplicate", wamid=update.message.id)


async def _insert_statuses(conn: asyncpg.Connection, found: list[_Status]) -> None:
    """The statuses of a webhook, or of a batch's webhooks once its effects have run (nothing in the batch reads
    them back), each announced on its own webhook's ``out``: the same status twice in a batch by the first."""
    new = await statuses.insert_statuses(conn, [s.owner for s in found], [s.update for s in found])
    for s in found:
        key = (s.update.status.id, s.update.status.status)
        if key in new:
            new.discard(key)
            s.out.publish(status_changed(s.update, s.owner, s.cause))


def _waiting_status(update: StatusUpdate, reason: str) -> Unparsed:
    status = update.replayable
    return Unparsed(reason, _replayable(update, statuses=[status]), update.metadata.phone_number_id)


def _replayable(update: MessageUpdate | StatusUpdate, **items: list[dict[str, Any]]) -> dict[str, Any]:
    """A part for a number not (yet) in the directory or not active, kept whole — WABA, metadata, contact — so that
    ``number.activated`` (or ``python -m router.parked replay``) can hand it to the router again."""
    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": update.metadata.model_dump(), **items}
    if isinstance(update, MessageUpdate) and update.contact is not None:
        value["contacts"] = [update.contact.model_dump(mode="json", exclude_none=True)]
    return {"waba_id": update.waba_id, "value": value}

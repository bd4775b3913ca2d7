"""Messages and statuses of one webhook, stored in one transaction with their events, published after it.

Batched on purpose: one round trip inserts every message (``wamid`` unique) and the events of the new ones go
to the outbox in the same transaction; once it commits they are published concurrently with confirms. A
consumer never hears of a message it cannot read yet, and a crash in between leaves the events to the relay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router.deps import Deps
from router.events import message_received, status_changed
from router.store import UNSTORABLE, messages, statuses, tenants
from router.webhook.notification import MessageUpdate, StatusUpdate, Unparsed
from shared.contracts.envelope import Envelope
from shared.logging import get_logger
from shared.messaging import outbox

log = get_logger(__name__)


async def record_messages(
    batch: Sequence[MessageUpdate], cause: Envelope[Any], deps: Deps, original_sha256: str | None = None
) -> list[Unparsed]:
    """Store and announce the new messages; return those that cannot be (number unknown or not active, refused by
    PostgreSQL), for parking. One refused message costs only itself: the batch is then stored one by one."""
    try:
        return await _record_messages(batch, cause, deps, original_sha256)
    except UNSTORABLE as exc:
        if len(batch) > 1:
            return [part for u in batch for part in await record_messages([u], cause, deps, original_sha256)]
        (update,) = batch
        reason = f"message could not be stored: {type(exc).__name__}: {str(exc)[:200]}"
        return [Unparsed(reason, _replayable(update, messages=[update.message.raw]), update.metadata.phone_number_id)]


async def record_statuses(batch: Sequence[StatusUpdate], cause: Envelope[Any], deps: Deps) -> list[Unparsed]:
    """As :func:`record_messages`, for Meta's statuses of the business's messages."""
    try:
        return await _record_statuses(batch, cause, deps)
    except UNSTORABLE as exc:
        if len(batch) > 1:
            return [part for u in batch for part in await record_statuses([u], cause, deps)]
        (update,) = batch
        reason = f"status could not be stored: {type(exc).__name__}: {str(exc)[:200]}"
        status = update.replayable
        return [Unparsed(reason, _replayable(update, statuses=[status]), update.metadata.phone_number_id)]


async def _record_messages(
    batch: Sequence[MessageUpdate], cause: Envelope[Any], deps: Deps, original_sha256: str | None
) -> list[Unparsed]:
    async with outbox.transaction(deps.pool, deps.publisher, "router") as tx:
        numbers = await tenants.numbers(tx.conn, {u.metadata.phone_number_id for u in batch})
        clients = numbers.active
        # The same wamid twice in one POST is one message: the first occurrence stands.
        known = list({u.message.id: u for u in reversed(batch) if u.metadata.phone_number_id in clients}.values())[::-1]
        new = await messages.insert_inbound(tx.conn, clients, known, original_sha256) if known else set()
        events = [message_received(u, clients[u.metadata.phone_number_id], cause) for u in known if u.message.id in new]
        await tx.stage(events)
    for update in known:
        if update.message.id not in new:
            log.info("message.duplicate", wamid=update.message.id)
    for event in events:
        log.info(
            "message.received",
            wamid=event.data.wamid,
            message_type=event.data.message_type,
            tenant_id=str(event.tenant_id),
        )
    return [
        Unparsed(numbers.reason(pnid), _replayable(u, messages=[u.message.raw]), pnid)
        for u in batch
        if (pnid := u.metadata.phone_number_id) not in clients
    ]


async def _record_statuses(batch: Sequence[StatusUpdate], cause: Envelope[Any], deps: Deps) -> list[Unparsed]:
    async with outbox.transaction(deps.pool, deps.publisher, "router") as tx:
        numbers = await tenants.numbers(tx.conn, {u.metadata.phone_number_id for u in batch})
        in_directory = numbers.held
        held = [u for u in batch if u.metadata.phone_number_id in in_directory]
        # A status belongs to the client whose message it reports, even if the number has changed owner since.
        senders = await statuses.senders_of(tx.conn, [u.status.id for u in held])
        # A waiting (pending, suspended) number's statuses of messages its client sent through wamux are recorded:
        # they report what already left (billing's delivered conversations and Meta's pricing, the sender's proof
        # after a crash). Only a status of a message wamux never sent waits, as that number's messages do.
        routed = [u for u in held if u.metadata.phone_number_id in numbers.active or u.status.id in senders]
        known = list({(u.status.id, u.status.status): u for u in reversed(routed)}.values())[::-1]
        owners = [senders.get(u.status.id) or numbers.active[u.metadata.phone_number_id] for u in known]
        new = await statuses.insert_statuses(tx.conn, owners, known) if known else set()
        events = [
            status_changed(u, owner, cause)
            for u, owner in zip(known, owners, strict=True)
            if (u.status.id, u.status.status) in new
        ]
        await tx.stage(events)
    kept = {id(u) for u in routed}
    return [_waiting_status(u, numbers.reason(u.metadata.phone_number_id)) for u in batch if id(u) not in kept]


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

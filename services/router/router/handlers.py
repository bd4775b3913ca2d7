"""Router handlers: a raw webhook becomes one stored record and one event per message, status and field;
what cannot be routed is parked with its reason, and what waited for its number is handed back once it is active.

``route_webhook`` and ``record_outbound`` are effects on a connection (:func:`shared.messaging.batch.
effect_through_outbox`): run in the batches of what the broker delivered (one transaction, their events staged in
``router.outbox`` and published after the commit), or called as handlers, each in a transaction of its own."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.deps import Deps
from router.fields import route_field
from router.inbound import record_messages, record_statuses
from router.reading import Reading, read, storable
from router.replay import replay_activated
from router.store import parked as parked_store
from router.store import statuses as statuses_store
from router.store import tenants
from router.store.messages import OUTBOUND, insert_outbound
from router.webhook.notification import FieldUpdate, MessageUpdate, StatusUpdate, Unparsed, Update, updates
from shared.contracts.directory import NumberActivated
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import (
    MessageSent,
    WebhookParked,
    WebhookReceived,
)
from shared.logging import get_logger
from shared.messaging.batch import Outgoing, effect_through_outbox
from shared.messaging.consumer import Retry

log = get_logger(__name__)
# How long a number.activated may run ahead of the directory's read view (its transaction commits just after).
ACTIVATION_LAG_S = 5.0


@effect_through_outbox("router")
async def route_webhook(
    envelope: Envelope[WebhookReceived], deps: Deps, conn: asyncpg.Connection, out: Outgoing
) -> None:
    """Everything on ``conn`` and ``out`` only (a batch may run it twice): its events go through the outbox."""
    received = envelope.data
    if received.body_base64 is not None:
        exact = await parked_store.keep_original(conn, base64.b64decode(received.body_base64))
        await park(conn, out, Unparsed("body is not UTF-8", {"base64": received.body_base64}), envelope, exact)
        return
    parsed = out.memo.get(_PARSED, {}).get(envelope.id) or _Parsed.of(received.body)
    reading = parsed.reading
    # Re-encoding gives back the bytes the gateway decoded: a UTF-8 round trip is exact.
    original = await parked_store.keep_original(conn, received.body.encode()) if reading.altered else None
    if reading.notification is None:
        unreadable = Unparsed(reading.reason or "unreadable", {"raw": reading.payload})
        await park(conn, out, unreadable, envelope, original)
        return
    ordered = parsed.updates
    unparsed = [u for u in ordered if isinstance(u, Unparsed)]
    messages = [u for u in ordered if isinstance(u, MessageUpdate)]
    statuses = [u for u in ordered if isinstance(u, StatusUpdate)]
    if messages:
        unparsed += await record_messages(conn, out, messages, envelope, original)
    if statuses:
        unparsed += await record_statuses(conn, out, statuses, envelope)
    for update in ordered:
        if isinstance(update, FieldUpdate):
            unparsed += await route_field(conn, out, update, envelope)
    for item in unparsed:
        await park(conn, out, item, envelope, original)


@dataclass(frozen=True)
class _Parsed:
    """A webhook body read, its updates in Meta's timestamp order (a customer's burst is stored and answered in
    the order it was written)."""

    reading: Reading
    updates: list[Update]

    @classmethod
    def of(cls, body: str) -> _Parsed:
        reading = read(body)
        found = [] if reading.notification is None else sorted(updates(reading.notification), key=_order_key)
        return cls(reading, found)


_PARSED = "router.parsed"  # in a batch's memo: envelope id → its body read by the batch's prepare


class WebhookBatchEffect:
    """:func:`route_webhook` in a batch (the route's ``batch_effect``). In a batch's first pass
    (:class:`shared.messaging.batch.Prepares`) every body is read first, and the numbers and the senders of
    every status are looked up for the whole batch in one statement each, not one per webhook."""

    prepare_key = "router.webhooks"

    async def __call__(
        self, envelope: Envelope[WebhookReceived], deps: Deps, conn: asyncpg.Connection, out: Outgoing
    ) -> None:
        await route_webhook.batch_effect(envelope, deps, conn, out)

    async def prepare(
        self, conn: asyncpg.Connection, batch: Sequence[tuple[Envelope[Any], Any]], memo: dict[str, Any]
    ) -> None:
        parsed: dict[Any, _Parsed] = memo.setdefault(_PARSED, {})
        for envelope, _ in batch:
            if envelope.data.body_base64 is None and envelope.id not in parsed:
                parsed[envelope.id] = _Parsed.of(envelope.data.body)
        found = [u for p in parsed.values() for u in p.updates if isinstance(u, MessageUpdate | StatusUpdate)]
        if found:
            await tenants.numbers(conn, {u.metadata.phone_number_id for u in found}, memo)
        wamids = list(dict.fromkeys(u.status.id for u in found if isinstance(u, StatusUpdate)))
        if wamids:
            await statuses_store.prepare_senders(conn, wamids, memo)


def _order_key(update: Update) -> tuple[int, float]:
    if isinstance(update, MessageUpdate):
        return (0, update.message.timestamp.timestamp())
    if isinstance(update, StatusUpdate):
        return (1, update.status.timestamp.timestamp())
    return (2, 0.0)


async def park(
    conn: asyncpg.Connection, out: Outgoing, item: Unparsed, cause: Envelope[Any], original_sha256: str | None = None
) -> None:
    """Keep what cannot be routed, once, with the reason; tell the CRM; never loop on it."""
    payload, _ = storable(json.loads(json.dumps(item.payload, default=str)))
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    if not await parked_store.insert_parked(conn, digest, item, payload, original_sha256):
        return
    event = WebhookParked(
        reason=item.reason[:500], phone_number_id=item.phone_number_id[:128] if item.phone_number_id else None
    )
    out.publish(wrap(event, id=derived_id(event.TYPE, digest), correlation_id=cause.correlation_id))
    log.warning("webhook.parked", reason=item.reason[:200], phone_number_id=event.phone_number_id)


@effect_through_outbox("router")
async def record_outbound(envelope: Envelope[MessageSent], deps: Deps, conn: asyncpg.Connection, out: Outgoing) -> None:
    """Keep the business's side of the conversation beside the customer's (the AI's history). In a batch's first
    pass with every other ``message.sent`` of the batch, in one statement at its end (:func:`statuses.senders_of`
    knows of them meanwhile)."""
    await out.together(conn, OUTBOUND, insert_outbound, [envelope.data])


async def hand_back_waiting(envelope: Envelope[NumberActivated], deps: Deps) -> None:
    """A number became active: what was parked for it (unknown, pending, suspended) goes through the router again.

    The directory announces the activation as it commits it: until its read view shows the number active (a few
    milliseconds; longer if that transaction is redone after a crash) a replay would only park everything again,
    so a young activation waits for the view. One older than ``ACTIVATION_LAG_S`` is replayed whatever the view
    says: the number was suspended again meanwhile, and its messages are parked again for that reason.
    """
    status = await deps.pool.fetchval(
        "SELECT status FROM directory_read.numbers WHERE phone_number_id = $1 AND client_id = $2",
        envelope.data.phone_number_id,
        envelope.data.client_id,
    )
    age_s = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
    if status != "active" and age_s < ACTIVATION_LAG_S:
        raise Retry(f"number {envelope.data.phone_number_id} is not active in the directory yet", delay_s=1)
    count = await replay_activated(deps.pool, deps.publisher, envelope)
    log.info("number.activated.replayed", phone_number_id=envelope.data.phone_number_id, parts=count)

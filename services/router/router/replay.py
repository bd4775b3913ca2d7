"""Parked parts handed back to the router as ``webhook.received``, as the gateway would publish them.

Two callers, one code: an operator (``python -m router.parked replay``) and ``number.activated`` (what waited
for its number: unknown, pending or suspended). Each part is marked replayed in the same transaction that stages
its webhook in the outbox (published once it commits): never replayed twice, and a part parked again (its number
not active after all) waits again.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.store import tenants
from shared.contracts.directory import NumberActivated
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging import outbox
from shared.messaging.broker import Publisher

_FOR_NUMBER = "p.phone_number_id = $1 AND p.reason = ANY($2::text[]) AND p.payload ? 'value'"


async def replay(pool: asyncpg.Pool, publisher: Publisher, phone_number_id: str, *, dry_run: bool = False) -> int:
    """Publish the parked parts of a number now active in the directory; return how many."""
    async with pool.acquire() as conn:
        status = await tenants.status_of(conn, phone_number_id)
    if status is None:
        raise LookupError(
            f"{phone_number_id} is not in the directory yet: add the number first"
            " (python -m directory.admin add-number), then replay"
        )
    if status != "active":
        raise LookupError(
            f"{phone_number_id} is {status}: its parked parts are handed back by themselves when it becomes active"
        )
    args = [phone_number_id, list(tenants.AWAITING_ACTIVATION)]
    return await _replay(pool, publisher, _FOR_NUMBER, args, dry_run)


async def replay_activated(pool: asyncpg.Pool, publisher: Publisher, activated: Envelope[NumberActivated]) -> int:
    """What waited for the number ``number.activated`` names; a redelivered activation finds nothing waiting
    (and its webhooks' ids derive from it, so even a republished one is the same message)."""
    args = [activated.data.phone_number_id, list(tenants.AWAITING_ACTIVATION)]

    def envelope_id(part_id: int) -> uuid.UUID:
        return derived_id(WebhookReceived.TYPE, str(activated.id), str(part_id))

    return await _replay(pool, publisher, _FOR_NUMBER, args, dry_run=False, envelope_id=envelope_id)


async def replay_parts(
    pool: asyncpg.Pool,
    publisher: Publisher,
    *,
    part_ids: Sequence[int] = (),
    reason: str | None = None,
    dry_run: bool = False,
) -> int:
    """Publish parked parts whatever their reason — by id, or every part whose reason starts with ``reason`` —
    once the router can route them (a fix deployed, a number registered). A part parked again stays waiting."""
    if not part_ids and not reason:
        raise LookupError("say which parts: --id N (repeatable) or --reason PREFIX")
    where = "(p.id = ANY($1::bigint[]) OR ($2::text IS NOT NULL AND starts_with(p.reason, $2)))"
    return await _replay(pool, publisher, where, [list(part_ids), reason], dry_run)


async def _replay(
    pool: asyncpg.Pool,
    publisher: Publisher,
    where: str,
    args: list[Any],
    dry_run: bool,
    envelope_id: Callable[[int], uuid.UUID] = lambda _: uuid.uuid4(),
) -> int:
    async with outbox.transaction(pool, publisher, "router") as tx:
        rows = await tx.conn.fetch(
            f"""SELECT p.id, p.payload, o.body AS original FROM router.parked p
                  LEFT JOIN router.originals o ON o.sha256 = p.original_sha256
                 WHERE p.replayed_at IS NULL AND {where}
                 ORDER BY p.parked_at, p.id FOR UPDATE OF p SKIP LOCKED""",  # noqa: S608  (where is ours, not input)
            *args,
        )
        webhooks = [(row["id"], w) for row in rows if (w := _webhook(row["payload"], row["original"])) is not None]
        if dry_run or not webhooks:
            return len(webhooks)
        envelopes = []
        for part_id, webhook in webhooks:
            id_ = envelope_id(part_id)
            envelopes.append(wrap(webhook, id=id_, correlation_id=f"replay-{id_.hex}"))
        await tx.conn.execute(
            "UPDATE router.parked SET replayed_at = now() WHERE id = ANY($1::bigint[])", [p for p, _ in webhooks]
        )
        await tx.stage(envelopes)
    return len(webhooks)


def _webhook(parked: Any, original: bytes | None) -> WebhookReceived | None:
    """The webhook that hands a parked part back to the router: rebuilt around the part when it was kept with its
    context (WABA, metadata, contact), else the exact bytes Meta sent (neighbours already stored are duplicates,
    dropped as such); None when there is neither."""
    now = datetime.now(UTC)
    if isinstance(parked, dict) and isinstance(parked.get("value"), dict) and "waba_id" in parked:
        change = {"field": parked.get("field", "messages"), "value": parked["value"]}
        notification = {
            "object": "whatsapp_business_account",
            "entry": [{"id": parked["waba_id"], "changes": [change]}],
        }
        return WebhookReceived(body=json.dumps(notification, ensure_ascii=False), received_at=now)
    if original is None:
        # Parked whole before the exact bytes were kept: the body as text, which is what the gateway published.
        text = parked.get("raw") if isinstance(parked, dict) else None
        return WebhookReceived(body=text, received_at=now) if isinstance(text, str) else None
    raw = bytes(original)
    try:
        return WebhookReceived(body=raw.decode(), received_at=now)
    except UnicodeDecodeError:
        encoded = base64.b64encode(raw).decode()
        return WebhookReceived(body=raw.decode(errors="replace"), body_base64=encoded, received_at=now)

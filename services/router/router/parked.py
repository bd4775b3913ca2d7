"""What the router set aside, for an operator: look at it, and hand it back once its number is registered.

    python -m router.parked list [--limit N]
    python -m router.parked replay --phone-number-id PNID [--dry-run]
    python -m router.parked replay --id N [--id M …] | --reason PREFIX [--dry-run]

A message to a number not yet in the directory is kept whole (WABA, metadata, contact); ``replay`` publishes it
again as a ``webhook.received`` — as the gateway would — so the router stores it, announces it and the AI
answers (the sender still refuses a free-form reply past the 24-hour window). Any other part — one PostgreSQL
refused, a body that was not a notification — is replayed by id or reason once the router can route it: rebuilt
around its context, or from the exact bytes kept in ``router.originals``. Replayed parts are marked, never
replayed twice; a part parked again is waiting again.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.inbound import UNKNOWN_NUMBER
from router.settings import RouterSettings
from shared.contracts.envelope import wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging.broker import Publisher
from shared.messaging.runtime import infrastructure


async def summary(pool: asyncpg.Pool, limit: int = 20) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT split_part(reason, ':', 1) AS reason, phone_number_id, count(*) AS parts,
                  count(*) FILTER (WHERE replayed_at IS NULL) AS waiting, max(parked_at) AS last_parked_at
             FROM router.parked GROUP BY 1, 2 ORDER BY last_parked_at DESC LIMIT $1""",
        limit,
    )
    return [{**dict(r), "last_parked_at": r["last_parked_at"].isoformat()} for r in rows]


async def replay(pool: asyncpg.Pool, publisher: Publisher, phone_number_id: str, *, dry_run: bool = False) -> int:
    """Publish the parked parts of a number now in the directory; return how many."""
    if not await pool.fetchval("SELECT true FROM directory_read.numbers WHERE phone_number_id = $1", phone_number_id):
        raise LookupError(
            f"{phone_number_id} is not in the directory yet: add the number first"
            " (python -m directory.admin add-number), then replay"
        )
    where = "p.phone_number_id = $1 AND p.reason = $2 AND p.payload ? 'value'"
    return await _replay(pool, publisher, where, [phone_number_id, UNKNOWN_NUMBER], dry_run)


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


async def _replay(pool: asyncpg.Pool, publisher: Publisher, where: str, args: list[Any], dry_run: bool) -> int:
    replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""SELECT p.id, p.payload, o.body AS original FROM router.parked p
                  LEFT JOIN router.originals o ON o.sha256 = p.original_sha256
                 WHERE p.replayed_at IS NULL AND {where}
                 ORDER BY p.parked_at FOR UPDATE OF p SKIP LOCKED""",  # noqa: S608  (where is ours, not input)
            *args,
        )
        for row in rows:
            webhook = _webhook(row["payload"], row["original"])
            if webhook is None:
                continue
            if not dry_run:
                await publisher.publish(wrap(webhook, correlation_id=f"replay-{uuid.uuid4().hex}"))
                await conn.execute("UPDATE router.parked SET replayed_at = now() WHERE id = $1", row["id"])
            replayed += 1
    return replayed


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


async def _run(args: argparse.Namespace, settings: RouterSettings) -> int:
    async with infrastructure(settings, "router") as infra:  # a replay publishes webhook.received, as the router
        if args.command == "list":
            print(json.dumps(await summary(infra.pool, args.limit), ensure_ascii=False, indent=2))
            return 0
        if args.phone_number_id:
            count = await replay(infra.pool, infra.publisher, args.phone_number_id, dry_run=args.dry_run)
        else:
            count = await replay_parts(
                infra.pool, infra.publisher, part_ids=args.id, reason=args.reason, dry_run=args.dry_run
            )
        print(f"{'would replay' if args.dry_run else 'replayed'} {count} parked part(s)")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m router.parked", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="what was parked, by reason and number")
    listing.add_argument("--limit", type=int, default=20)
    again = commands.add_parser("replay", help="hand a registered number's parked messages back to the router")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--phone-number-id", help="the parts of a number registered too late")
    which.add_argument("--id", type=int, action="append", default=[], help="a parked part, whatever its reason")
    which.add_argument("--reason", help="every waiting part whose reason starts with this (after a fix)")
    again.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args, RouterSettings(service="router-parked")))
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

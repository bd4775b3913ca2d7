"""What the router set aside, for an operator: look at it, and hand it back once its number is registered.

    python -m router.parked list [--limit N]
    python -m router.parked replay --phone-number-id PNID [--dry-run]

A message to a number not yet in the directory is kept whole (WABA, metadata, contact); ``replay`` publishes it
again as a ``webhook.received`` — as the gateway would — so the router stores it, announces it and the AI
answers (the sender still refuses a free-form reply past the 24-hour window). Replayed parts are marked, never
replayed twice; a part of a number still unknown is left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from router.inbound import UNKNOWN_NUMBER
from shared.broker import Publisher
from shared.envelope import wrap
from shared.messages import WebhookReceived
from shared.runtime import infrastructure
from shared.settings import Settings


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
    if not await pool.fetchval("SELECT true FROM directory.numbers WHERE phone_number_id = $1", phone_number_id):
        raise LookupError(f"{phone_number_id} is not in the directory yet: add the number first (gateway.admin)")
    replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """SELECT id, payload FROM router.parked
                WHERE phone_number_id = $1 AND reason = $2 AND replayed_at IS NULL AND payload ? 'value'
                ORDER BY parked_at FOR UPDATE SKIP LOCKED""",
            phone_number_id,
            UNKNOWN_NUMBER,
        )
        for row in rows:
            if not dry_run:
                await publisher.publish(wrap(_webhook(row["payload"]), correlation_id=f"replay-{uuid.uuid4().hex}"))
                await conn.execute("UPDATE router.parked SET replayed_at = now() WHERE id = $1", row["id"])
            replayed += 1
    return replayed


def _webhook(parked: dict[str, Any]) -> WebhookReceived:
    notification = {
        "object": "whatsapp_business_account",
        "entry": [{"id": parked["waba_id"], "changes": [{"field": "messages", "value": parked["value"]}]}],
    }
    return WebhookReceived(body=json.dumps(notification, ensure_ascii=False), received_at=datetime.now(UTC))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    async with infrastructure(settings) as infra:
        if args.command == "list":
            print(json.dumps(await summary(infra.pool, args.limit), ensure_ascii=False, indent=2))
            return 0
        count = await replay(infra.pool, infra.publisher, args.phone_number_id, dry_run=args.dry_run)
        print(f"{'would replay' if args.dry_run else 'replayed'} {count} parked part(s) of {args.phone_number_id}")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m router.parked", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="what was parked, by reason and number")
    listing.add_argument("--limit", type=int, default=20)
    again = commands.add_parser("replay", help="hand a registered number's parked messages back to the router")
    again.add_argument("--phone-number-id", required=True)
    again.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args, Settings(service="router-parked")))
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""What the router set aside, for an operator: look at it, and hand it back once it can be routed.

    python -m router.parked list [--limit N]
    python -m router.parked replay --phone-number-id PNID [--dry-run]
    python -m router.parked replay --id N [--id M …] | --reason PREFIX [--dry-run]

A message to a number not yet in the directory, or not active in it (pending, suspended), is kept whole (WABA,
metadata, contact); ``number.activated`` hands it back by itself, and ``replay`` does the same for an active
number (:mod:`router.replay`): it publishes it again as a ``webhook.received`` — as the gateway would — so the
router stores it, announces it and the AI answers (the sender still refuses a free-form reply past the 24-hour
window). Any other part — one PostgreSQL refused, a body that was not a notification — is replayed by id or
reason once the router can route it: rebuilt around its context, or from the exact bytes kept in
``router.originals``. Replayed parts are marked, never replayed twice; a part parked again is waiting again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

import asyncpg

from router.replay import replay, replay_parts
from router.settings import RouterSettings
from shared.messaging.runtime import infrastructure

__all__ = ["main", "replay", "replay_parts", "summary"]


async def summary(pool: asyncpg.Pool, limit: int = 20) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT split_part(reason, ':', 1) AS reason, phone_number_id, count(*) AS parts,
                  count(*) FILTER (WHERE replayed_at IS NULL) AS waiting, max(parked_at) AS last_parked_at
             FROM router.parked GROUP BY 1, 2 ORDER BY last_parked_at DESC LIMIT $1""",
        limit,
    )
    return [{**dict(r), "last_parked_at": r["last_parked_at"].isoformat()} for r in rows]


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

"""Operator tool for the dead-letter queues: look, replay to the work queue, or purge.

python -m shared.messaging.deadletters list [ROLE …] [--limit N] [--json]
python -m shared.messaging.deadletters replay ROLE (--id ENVELOPE_ID … | --all) [--limit N] [--dry-run]
python -m shared.messaging.deadletters purge ROLE --yes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.exceptions import AMQPConnectionError

from shared.messaging.deadletters.letters import QueueMissing, UnknownRole, check_role, peek, purge, replay
from shared.messaging.deadletters.reading import DeadLetter
from shared.messaging.topology import ROLES, Topology
from shared.settings import Settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m shared.messaging.deadletters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True)
    show = commands.add_parser("list", help="depth and first messages of dead-letter queues, left in place")
    show.add_argument("roles", nargs="*", metavar="ROLE", help=f"default: all ({', '.join(ROLES)})")
    show.add_argument("--limit", type=_positive, default=10, help="messages shown per queue (default 10)")
    show.add_argument("--json", action="store_true")
    back = commands.add_parser("replay", help="move dead letters back to the role's work queue")
    back.add_argument("role", metavar="ROLE")
    which = back.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", type=uuid.UUID, nargs="+", action="extend", metavar="ENVELOPE_ID")
    which.add_argument("--all", action="store_true", help="every dead letter of the role, oldest first")
    back.add_argument("--limit", type=_positive, default=None, help="replay at most N")
    back.add_argument("--dry-run", action="store_true", help="show what would move, move nothing")
    drop = commands.add_parser("purge", help="drop the content of a dead-letter queue")
    drop.add_argument("role", metavar="ROLE")
    drop.add_argument("--yes", action="store_true", help="required: the messages are gone for good")
    return root


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _line(letter: DeadLetter) -> str:
    died = letter.first_death_at.isoformat() if letter.first_death_at else "-"
    return (
        f"  {letter.envelope_id or '-'}  {letter.type or '-'}  correlation={letter.correlation_id or '-'}"
        f"  tenant={letter.tenant_id or '-'}  attempt={letter.attempt if letter.attempt is not None else '-'}"
        f"  deliveries={letter.deliveries}  first_death={died}\n      reason: {letter.reason or '-'}"
    )


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v), indent=2)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    names = Topology(settings.broker_prefix)
    connection = await aio_pika.connect(
        settings.amqp_url.get_secret_value(), client_properties={"connection_name": settings.service}
    )
    async with connection:
        if args.command == "list":
            queues = await peek(connection, names, args.roles, args.limit)
            if args.json:
                print(_json({q.role: asdict(q) for q in queues}))
                return 0
            for q in queues:
                print(f"{q.queue}: {q.depth} dead letter(s)" + "".join(f"\n{_line(m)}" for m in q.messages))
            return 0
        if args.command == "purge":
            print(f"purged {await purge(connection, names, args.role)} message(s) from {names.dead_queue(args.role)}")
            return 0
        report = await replay(
            connection,
            names,
            args.role,
            ids=args.ids,
            limit=args.limit,
            dry_run=args.dry_run,
            publish_timeout_s=settings.publish_timeout_s,
        )
    verb = "would replay" if report.dry_run else "replayed"
    print(f"{verb} {len(report.replayed)} from {report.source} to {report.target}")
    print("".join(f"{_line(m)}\n" for m in report.replayed), end="")
    for missing in report.not_found:
        print(f"not in {report.source}: {missing}", file=sys.stderr)
    if report.failure:
        print(f"stopped: publish failed for {report.failure}; its dead copy stays", file=sys.stderr)
    return 1 if report.failure or report.not_found else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        for role in getattr(args, "roles", None) or [getattr(args, "role", "router")]:
            check_role(role)
        if args.command == "purge" and not args.yes:
            print(
                f"refusing to purge {args.role}'s dead letters without --yes: look first (list {args.role})",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(_run(args, Settings(service="deadletters")))
    except (UnknownRole, QueueMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ConnectionError, AMQPConnectionError) as exc:
        print(f"error: cannot reach RabbitMQ ({type(exc).__name__}: {exc}): check WAMUX_AMQP_URL", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Operator commands on the directory, until the CRM onboarding flow exists.

    python -m directory.admin add-client --name "Inmobiliaria Andes" --personality "…" --timezone America/Bogota
    python -m directory.admin add-number --client-id UUID --phone-number "+57 601 555 0100" \
        --phone-number-id 106540352242922 --waba-id 102290129340398
    python -m directory.admin move-number --phone-number-id 106540352242922 --to-client-id UUID [--free-quota N]
    python -m directory.admin seed-demo      # the demo's Bogotá real-estate agency, idempotent
    python -m directory.admin rotate-credentials   # seal every stored secret under WAMUX_CREDENTIAL_KEYS' first key

``add-number`` refuses a number another client holds: a number changes owner only with ``move-number``, which
moves it in one transaction and announces ``number.moved`` (confirmed by the broker). Its past — usage, conversations,
contacts, media — stays with the client it belonged to. A move whose announcement failed is completed by running
the same command again: it publishes the same event, never a second move.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from pydantic import ValidationError
from pydantic_settings import SettingsError

from directory import credentials
from directory.clients import upsert_client
from directory.moves import move
from directory.numbers import NotInDirectory, NumberConflict, upsert_number
from directory.settings import DirectorySettings
from shared.messaging.broker import PublishFailed
from shared.messaging.runtime import infrastructure
from shared.phones import InvalidPhoneNumber
from shared.secretbox import KeyRing, SecretboxError
from shared.settings import refused

DEMO_CLIENT_ID = uuid.UUID("00000000-0000-4000-8000-00000000b0a7")
DEMO = {
    "name": "Inmobiliaria Andes",
    "personality": (
        "Real-estate agency in Bogotá, professional but friendly; rents and sells apartments in Chapinero, "
        "Usaquén and Teusaquillo; offers visits Monday to Friday, 8 am to 6 pm."
    ),
    "timezone": "America/Bogota",
    "phone_number": "+57 601 555 0100",
    "phone_number_id": "100000000000001",
    "waba_id": "200000000000001",
    "display_name": "Inmobiliaria Andes",
}


async def _move(args: argparse.Namespace, settings: DirectorySettings) -> dict[str, Any]:
    async with infrastructure(settings, "directory") as infra:  # it publishes number.moved, nothing else
        moved = await move(
            infra.pool,
            infra.publisher,
            phone_number_id=args.phone_number_id,
            to_client_id=args.to_client_id,
            free_quota=args.free_quota,
            display_name=args.display_name,
            waba_id=args.waba_id,
        )
    if moved is None:
        return {
            "moved": False,
            "phone_number_id": args.phone_number_id,
            "client_id": str(args.to_client_id),
            "reason": "the client already holds this number",
        }
    return {
        "moved": True,
        "move_id": str(moved.id),
        "phone_number_id": moved.phone_number_id,
        "from_client_id": str(moved.from_client_id),
        "to_client_id": str(moved.to_client_id),
        "moved_at": moved.moved_at.isoformat(),
    }


async def _rotate(settings: DirectorySettings) -> dict[str, Any]:
    try:  # a bad ring is refused before connecting
        ring = KeyRing.from_setting(settings.credential_keys)
    except ValueError as exc:
        raise SecretboxError(str(exc)) from None
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        count = await credentials.reencrypt(conn, ring)
    finally:
        await conn.close()
    return {"reencrypted": count, "key_id": ring.current}


async def _run(args: argparse.Namespace, settings: DirectorySettings) -> dict[str, Any]:
    if args.command == "move-number":
        return await _move(args, settings)
    if args.command == "rotate-credentials":
        return await _rotate(settings)
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        async with conn.transaction():
            if args.command == "add-client":
                client = await upsert_client(
                    conn,
                    name=args.name,
                    personality=args.personality,
                    timezone=args.timezone,
                    quota_policy=args.quota_policy,
                )
                return {"client_id": str(client.id), "api_key": client.api_key}
            if args.command == "add-number":
                number_id = await upsert_number(
                    conn,
                    client_id=args.client_id,
                    phone_number=args.phone_number,
                    phone_number_id=args.phone_number_id,
                    waba_id=args.waba_id,
                    display_name=args.display_name,
                    free_quota=args.free_quota,
                )
                return {"number_id": str(number_id)}
            client = await upsert_client(
                conn,
                name=DEMO["name"],
                personality=DEMO["personality"],
                timezone=DEMO["timezone"],
                client_id=DEMO_CLIENT_ID,
                api_key=args.api_key,
            )
            await upsert_number(
                conn,
                client_id=client.id,
                phone_number=DEMO["phone_number"],
                phone_number_id=DEMO["phone_number_id"],
                waba_id=DEMO["waba_id"],
                display_name=DEMO["display_name"],
            )
            return {"client_id": str(client.id), "api_key": client.api_key, **DEMO}
    finally:
        await conn.close()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m directory.admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)
    client = commands.add_parser("add-client", help="create a client and print its API key (shown once)")
    client.add_argument("--name", required=True)
    client.add_argument("--personality", required=True)
    client.add_argument("--timezone", default="UTC")
    client.add_argument("--quota-policy", choices=("count_paid", "pause_ai"), default="count_paid")
    number = commands.add_parser("add-number", help="put a WhatsApp number under a client")
    number.add_argument("--client-id", required=True, type=uuid.UUID)
    number.add_argument("--phone-number", required=True, help="E.164, e.g. +573001234567")
    number.add_argument("--phone-number-id", required=True)
    number.add_argument("--waba-id", required=True)
    number.add_argument("--display-name", default="")
    number.add_argument("--free-quota", type=int, default=1000)
    moving = commands.add_parser(
        "move-number", help="give a number to another client (its past stays with the old one); announces number.moved"
    )
    moving.add_argument("--phone-number-id", required=True)
    moving.add_argument("--to-client-id", required=True, type=uuid.UUID)
    moving.add_argument("--free-quota", type=int, default=None, help="the new owner's monthly free conversations")
    moving.add_argument("--display-name", default=None)
    moving.add_argument("--waba-id", default=None, help="the new owner's WABA, when the number moved to another")
    commands.add_parser(
        "rotate-credentials",
        help="seal every stored token and PIN again under the first key of WAMUX_CREDENTIAL_KEYS; prints how many",
    )
    demo = commands.add_parser("seed-demo", help="the demo client and number (idempotent)")
    demo.add_argument("--api-key", default=None, help="use this API key instead of a new random one")
    return root


def _refused_reference(exc: asyncpg.ForeignKeyViolationError, args: argparse.Namespace) -> str:
    """PostgreSQL's foreign-key refusal in the operator's words: the only reference an operator gives is a client."""
    client_id = getattr(args, "client_id", None)
    if client_id is not None and "client_id" in (exc.detail or ""):
        return f"no client {client_id}: add it first (add-client)"
    return f"{exc.table_name or 'a row'} refers to something that does not exist: {exc.detail or exc}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = DirectorySettings(service="admin")
    except ValidationError as exc:
        print(f"error: bad setting: {refused(exc, DirectorySettings)}", file=sys.stderr)
        return 2
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        print(f"error: bad setting: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_run(args, settings))
    except (NumberConflict, NotInDirectory, InvalidPhoneNumber) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except asyncpg.ForeignKeyViolationError as exc:  # before PostgresError: the database answered, and refused
        print(f"error: {_refused_reference(exc, args)}", file=sys.stderr)
        return 2
    except SecretboxError as exc:  # the key ring, or a secret that does not open (never a key in the message)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as exc:  # no server, no such database, not migrated
        print(f"error: the database did not answer: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except PublishFailed as exc:
        print(
            f"error: the number moved but number.moved was not announced ({exc}): run the same command again",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

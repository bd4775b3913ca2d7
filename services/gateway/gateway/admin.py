"""Operator commands on the directory, until the CRM onboarding flow exists.

    python -m gateway.admin add-client --name "Inmobiliaria Andes" --personality "…" --timezone America/Bogota
    python -m gateway.admin add-number --client-id UUID --phone-number "+57 601 555 0100" \
        --phone-number-id 106540352242922 --waba-id 102290129340398
    python -m gateway.admin seed-demo      # the demo's Bogotá real-estate agency, idempotent
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

import asyncpg

from gateway.directory import upsert_client, upsert_number
from shared.settings import Settings

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


async def _run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
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
                    client_id=uuid.UUID(args.client_id),
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
        prog="python -m gateway.admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)
    client = commands.add_parser("add-client", help="create a client and print its API key (shown once)")
    client.add_argument("--name", required=True)
    client.add_argument("--personality", required=True)
    client.add_argument("--timezone", default="UTC")
    client.add_argument("--quota-policy", choices=("count_paid", "pause_ai"), default="count_paid")
    number = commands.add_parser("add-number", help="put a WhatsApp number under a client")
    number.add_argument("--client-id", required=True)
    number.add_argument("--phone-number", required=True, help="E.164, e.g. +573001234567")
    number.add_argument("--phone-number-id", required=True)
    number.add_argument("--waba-id", required=True)
    number.add_argument("--display-name", default="")
    number.add_argument("--free-quota", type=int, default=1000)
    demo = commands.add_parser("seed-demo", help="the demo client and number (idempotent)")
    demo.add_argument("--api-key", default=None, help="use this API key instead of a new random one")
    return root


def main() -> None:
    args = parser().parse_args()
    print(json.dumps(asyncio.run(_run(args, Settings(service="admin"))), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

"""A scratch database with one client and one number (made by the directory's code), for a benchmark run;
dropped afterwards."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from directory.clients import upsert_client
from directory.numbers import upsert_number
from shared.migrate import migrate

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def scratch_database(phone_number: str, phone_number_id: str) -> AsyncIterator[str]:
    name = f"wamux_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(SERVER)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(url)
        conn = await asyncpg.connect(url)
        try:  # through the directory's code, the only writer of its schema
            client = await upsert_client(conn, name="Bench", personality="Bench")
            await upsert_number(
                conn, client_id=client.id, phone_number=phone_number, phone_number_id=phone_number_id, waba_id="1"
            )
        finally:
            await conn.close()
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def text_notification(phone_number_id: str, display_phone_number: str, texts: list[tuple[str, str]]) -> str:
    """Meta's webhook body for text messages, given (customer wa_id, text) pairs."""
    now = str(int(time.time()))
    messages = [
        {"from": wa_id, "id": f"wamid.bench.{uuid.uuid4().hex}", "timestamp": now, "type": "text", "text": {"body": t}}
        for wa_id, t in texts
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "B"}, "wa_id": m["from"]} for m in messages],
        "messages": messages,
    }
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    )

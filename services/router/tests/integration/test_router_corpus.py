"""Every golden webhook under tests/data/webhooks/ routes to the right events, for the right tenant, once."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from router.deps import Deps
from router.handlers import route_webhook
from shared.contracts.envelope import wrap
from shared.contracts.messages import WebhookReceived
from shared.contracts.meta_events import event_for
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.tenants import add_number, create_tenant

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "data" / "webhooks"
WABA = "102290129340398"
NUMBERS = {"106540352242922": "+576015550101", "106540352242923": "+576015550102", "318774629104452": "+576015550103"}
EVENT_OF_KIND = {"message": "message.received", "status": "message.status", "unparsed": "webhook.parked"}


@pytest.fixture(scope="module")
async def corpus_client(database_url: str) -> uuid.UUID:
    """One client owning the corpus's numbers, all under the corpus's WABA."""
    (first, phone), *others = NUMBERS.items()
    client = await create_tenant(
        database_url,
        name="Corpus",
        personality="-",
        phone_number=phone,
        phone_number_id=first,
        waba_id=WABA,
        display_name="",
    )
    for pnid, phone in others:
        await add_number(database_url, client, phone_number=phone, phone_number_id=pnid)
    return client.client_id


def expected_events(payload: dict[str, Any], expect: list[dict[str, Any]]) -> Counter[str]:
    fields = iter(
        c
        for e in payload.get("entry", [])
        if isinstance(e, dict)
        for c in e.get("changes", [])
        if isinstance(c, dict) and c.get("field") != "messages"
    )
    wanted: Counter[str] = Counter()
    once: set[tuple[str, ...]] = set()  # a message (or status) repeated in one POST is announced once
    for item in expect:
        key = (item["kind"], item.get("message.id") or item.get("status.id") or "", item.get("status.status", ""))
        if item["kind"] in ("message", "status") and key in once:
            continue
        once.add(key)
        if item["kind"] != "field":
            wanted[EVENT_OF_KIND[item["kind"]]] += 1
            continue
        change = next(fields)
        echoes = change["value"].get("message_echoes") if change["field"] == "smb_message_echoes" else None
        wanted[event_for(change["field"]).TYPE] += len(echoes) if echoes else 1
    return wanted


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.stem)
async def test_golden_webhook_routes_to_its_events(
    path: Path, infra: Infrastructure, tap: Tap, corpus_client: uuid.UUID
) -> None:
    # A fresh wamid space per run, so files sharing Meta's example ids do not dedup each other.
    text = path.read_text().replace("wamid.", f"wamid.{uuid.uuid4().hex[:8]}")  # _expect too
    payload = json.loads(text)
    payload.pop("_source")
    expect = payload.pop("_expect")
    wanted = expected_events(payload, expect)
    envelope = wrap(WebhookReceived(body=json.dumps(payload), received_at=datetime.now(UTC)), correlation_id="c")

    await route_webhook(envelope, Deps(infra.pool, infra.publisher))
    await route_webhook(envelope, Deps(infra.pool, infra.publisher))  # Meta's redelivery changes nothing

    for event_type, count in wanted.items():
        await tap.wait_for(event_type, count=count)
    await tap.drained()
    assert Counter(m["type"] for m in tap.messages) == wanted
    for event in tap.messages:
        if event["type"] in ("message.received", "message.status"):
            assert event["tenant_id"] == str(corpus_client)
        elif event["type"] != "webhook.parked" and event["data"].get("waba_id") == WABA:
            assert event["tenant_id"] == str(corpus_client)
    # Field by field: what the parser read is what the events carry.
    received = {e["data"]["wamid"]: e["data"] for e in tap.of_type("message.received")}
    statuses = {(e["data"]["wamid"], e["data"]["status"]): e["data"] for e in tap.of_type("message.status")}
    seen: set[str] = set()
    for item in expect:
        if item["kind"] == "message" and item["message.id"] not in seen:  # a repeated wamid is one message
            seen.add(item["message.id"])
            data = received[item["message.id"]]
            assert data["message_type"] == item["message.type"]
            assert data["wa_id"] == item.get("message.from_", data["wa_id"])
            assert data["phone_number_id"] == item["metadata.phone_number_id"]
            if "message.body" in item:
                assert data["text"] == item["message.body"]
            if "message.media.id" in item:
                assert data["media"]["id"] == item["message.media.id"]
            if "contact.profile.name" in item:
                assert data["profile_name"] == item["contact.profile.name"]
        elif item["kind"] == "status":
            data = statuses[(item["status.id"], item["status.status"])]
            assert data["phone_number_id"] == item["metadata.phone_number_id"]
            if "status.errors.0.code" in item:
                assert data["errors"][0]["code"] == item["status.errors.0.code"]

"""Whatever bytes Meta signs, through the real router and database: every valid update of the POST is stored and
announced, what cannot be stored as sent is stored in a form that can (the exact bytes kept), and a poison part
never takes a neighbour down.

The property test puts an adversarial value — NUL, lone surrogates, any Unicode category, a 1 MB string, nesting
thousands of levels deep — in one string field of one golden payload (every message type and status), beside a
valid customer message in another change of the same POST. ``WAMUX_HOSTILE_EXAMPLES`` raises the number of
examples for a nightly run (``make bench`` runs a longer profile).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router.deps import Deps
from router.handlers import record_outbound, route_webhook
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageSent, WebhookReceived
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.payloads import new_wamid, notification, text_message
from tests.support.tenants import Tenant

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "data" / "webhooks"
DEEP = "\u2063deep\u2063"  # stands for a value nested thousands of levels deep, spliced into the JSON text
DEPTH = 5000
MEGABYTE = "ж" * 1_000_000
EXAMPLES = int(os.environ.get("WAMUX_HOSTILE_EXAMPLES", "100"))


def _values() -> dict[str, dict[str, Any]]:
    """The ``value`` of every golden messages-change: each message type and each status."""
    found = {}
    for path in sorted(CORPUS.glob("*.json")):
        if path.stem.startswith(("message_", "status_")):
            change = json.loads(path.read_text())["entry"][0]["changes"][0]
            found[path.stem] = change["value"]
    return found


VALUES = _values()


def string_paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(node, str):
        return [prefix]
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [path for key, child in children for path in string_paths(child, (*prefix, key))]


adversarial = st.one_of(
    st.text(st.characters(exclude_categories=()), min_size=1, max_size=40),  # surrogates and NUL included
    st.sampled_from(["\x00", "\ud800", "\udfff", "a\x00b", "\ud83d", "x\udc00\x00y", "\ufffe\uffff", MEGABYTE, DEEP]),
)


@st.composite
def hostile_changes(draw: st.DrawFn) -> tuple[str, tuple[str | int, ...], Any]:
    name = draw(st.sampled_from(sorted(VALUES)))
    path = draw(st.sampled_from(string_paths(VALUES[name])))
    return name, path, draw(adversarial)


def poisoned(name: str, path: tuple[str | int, ...], bad: Any, phone_number_id: str) -> dict[str, Any]:
    value = copy.deepcopy(VALUES[name])
    value["metadata"]["phone_number_id"] = phone_number_id
    for item in (*value.get("messages", []), *value.get("statuses", [])):
        item["id"] = new_wamid()  # each example its own part, so dedup does not hide a loss
    node: Any = value
    for key in path[:-1]:
        node = node[key]
    # An id stays unique per example even when it is the poisoned field.
    node[path[-1]] = bad + uuid.uuid4().hex if path[-1] in ("id", "wa_id", "from") and isinstance(bad, str) else bad
    return value


def webhook_text(payload: dict[str, Any]) -> str:
    """The JSON as Meta would send it: non-ASCII, NUL and lone surrogates as ``\\u`` escapes."""
    text = json.dumps(payload)
    return text.replace(json.dumps(DEEP), "[" * DEPTH + "]" * DEPTH)


def received(body: str) -> Envelope[WebhookReceived]:
    return wrap(WebhookReceived(body=body, received_at=datetime.now(UTC)), correlation_id=f"hostile-{uuid.uuid4().hex}")


async def _parts_kept(pool: asyncpg.Pool, phone_number_id: str, since: datetime) -> int:
    """Parts stored for this number, and parts parked (under whatever number the poison left them), since then."""
    return int(
        await pool.fetchval(
            """SELECT (SELECT count(*) FROM router.messages WHERE phone_number_id = $1 AND recorded_at >= $2)
                    + (SELECT count(*) FROM router.statuses WHERE phone_number_id = $1 AND recorded_at >= $2)
                    + (SELECT count(*) FROM router.parked WHERE parked_at >= $2)""",
            phone_number_id,
            since,
        )
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(change=hostile_changes())
async def test_a_hostile_value_in_any_string_field_never_costs_its_neighbour(
    change: tuple[str, tuple[str | int, ...], Any], infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    name, path, bad = change
    neighbour = text_message("¿Tienen apartamentos en Chapinero?", sender="573009998877")
    payload = notification(tenant.phone_number_id, messages=[neighbour])
    payload["entry"][0]["changes"].insert(
        0, {"field": "messages", "value": poisoned(name, path, bad, tenant.phone_number_id)}
    )
    since = await infra.pool.fetchval("SELECT clock_timestamp()")

    await route_webhook(received(webhook_text(payload)), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]

    stored = await infra.pool.fetchval("SELECT body FROM router.messages WHERE wamid = $1", neighbour["id"])
    assert stored == "¿Tienen apartamentos en Chapinero?", f"neighbour lost with {name} {path}"
    await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == neighbour["id"])
    # The poisoned part is not lost either: stored (in a storable form) or parked with its reason.
    assert await _parts_kept(infra.pool, tenant.phone_number_id, since) >= 2, f"{name} {path} lost"


async def test_a_nul_in_a_text_is_stored_replaced_and_the_exact_bytes_are_kept(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    poison = text_message("antes\x00después", sender="573001110000")
    fine = text_message("Hola", sender="573001110001")
    body = webhook_text(notification(tenant.phone_number_id, messages=[poison, fine]))
    assert "\\u0000" in body

    await route_webhook(received(body), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]

    events = await tap.wait_for("message.received", count=2)
    assert {e["data"]["wamid"]: e["data"]["text"] for e in events} == {
        poison["id"]: "antes\ufffddespués",
        fine["id"]: "Hola",
    }
    row = await infra.pool.fetchrow(
        """SELECT m.body, o.body AS original FROM router.messages m
             JOIN router.originals o ON o.sha256 = m.original_sha256 WHERE m.wamid = $1""",
        poison["id"],
    )
    assert row["body"] == "antes\ufffddespués"
    assert bytes(row["original"]) == body.encode()


async def test_a_lone_surrogate_no_longer_parks_the_whole_post(infra: Infrastructure, tap: Tap, tenant: Tenant) -> None:
    poison = text_message("roto \ud800 aquí", sender="573001110002")
    fine = text_message("Buenas tardes", sender="573001110003")
    body = webhook_text(notification(tenant.phone_number_id, messages=[poison, fine]))

    await route_webhook(received(body), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]

    events = await tap.wait_for("message.received", count=2)
    assert sorted(e["data"]["text"] for e in events) == ["Buenas tardes", "roto \ufffd aquí"]


async def test_an_id_too_long_to_index_is_parked_alone(infra: Infrastructure, tap: Tap, tenant: Tenant) -> None:
    poison = text_message("id enorme", sender="573001110004", wamid="wamid." + "A" * 1_000_000)
    fine = text_message("Sigo aquí", sender="573001110005")
    deps = Deps(infra.pool, infra.publisher)

    await route_webhook(received(webhook_text(notification(tenant.phone_number_id, messages=[poison, fine]))), deps)  # type: ignore[arg-type]

    (event,) = await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == fine["id"])
    assert event["data"]["text"] == "Sigo aquí"
    parked = await tap.wait_for(
        "webhook.parked", where=lambda e: e["data"]["phone_number_id"] == tenant.phone_number_id
    )
    assert "id" in parked[0]["data"]["reason"]


async def test_nesting_deeper_than_any_parser_allows_costs_only_its_own_field(
    infra: Infrastructure, tap: Tap, tenant: Tenant
) -> None:
    poison = text_message(DEEP, sender="573001110006")
    fine = text_message("Quiero agendar una visita", sender="573001110007")
    body = webhook_text(notification(tenant.phone_number_id, messages=[poison, fine]))
    assert body.count("[") >= DEPTH

    await route_webhook(received(body), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]

    await tap.wait_for("message.received", where=lambda e: e["data"]["wamid"] == fine["id"])
    original = await infra.pool.fetchval(
        "SELECT body FROM router.originals WHERE sha256 = encode(sha256($1), 'hex')", body.encode()
    )
    assert bytes(original) == body.encode()


async def test_a_business_message_holding_a_nul_is_recorded_replaced(infra: Infrastructure, tenant: Tenant) -> None:
    # A CRM's message.send may carry what PostgreSQL cannot hold; Meta sends it, and its record must not loop.
    sent = MessageSent(
        client_id=tenant.client_id,
        send_id=uuid.uuid4(),
        phone_number_id=tenant.phone_number_id,
        to="573001110008",
        wamid=new_wamid(),
        text="Su cita:\x00 lunes",
        sent_at=datetime.now(UTC),
    )
    await record_outbound(wrap(sent, correlation_id="c"), Deps(infra.pool, infra.publisher))  # type: ignore[arg-type]
    row = await infra.pool.fetchrow("SELECT body, payload FROM router.messages WHERE wamid = $1", sent.wamid)
    assert row["body"] == row["payload"]["text"] == "Su cita:\ufffd lunes"

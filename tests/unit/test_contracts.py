"""Every service's contract is one table (shared/contracts/roles.py): the routes, the topology, the schemas and the
README's events table say the same, and a service that breaks it neither starts nor publishes."""

from __future__ import annotations

import importlib
import importlib.util
import re
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from shared.contracts import roles as contract
from shared.contracts.envelope import wrap
from shared.contracts.messages import ALL, BY_TYPE, SendMessage, WebhookReceived
from shared.contracts.schemas import schemas
from shared.messaging import topology
from shared.messaging.broker import Publisher
from shared.messaging.runtime import run_worker
from shared.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
# The module that declares each wamux role's ROLE and ROUTES (a role without a consumer has no ROUTES yet).
MAIN_MODULES = {
    "gateway": "gateway.__main__",
    "router": "router.__main__",
    "ai-worker": "ai_worker.__main__",
    "sender": "sender.__main__",
    "billing": "billing.__main__",
    "directory": "directory.__main__",
}


def main_module(role: str) -> ModuleType | None:
    name = MAIN_MODULES[role]
    if importlib.util.find_spec(name.split(".")[0]) is None or importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def readme_rows(text: str) -> dict[str, tuple[str, frozenset[str], frozenset[str]]]:
    """The README's events table, by type: (exchange, published by, consumed by)."""
    section = text.split("## Events for the CRM", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`"):
            continue

        def names(cell: str) -> frozenset[str]:
            return frozenset(n.strip() for n in cell.split(",") if n.strip() not in ("", "—"))

        for message_type in re.findall(r"`([^`]+)`", cells[0]):
            assert message_type not in rows, f"{message_type} is in the README's table twice"
            rows[message_type] = (cells[1], names(cells[2]), names(cells[3]))
    return rows


def contract_rows() -> dict[str, tuple[str, frozenset[str], frozenset[str]]]:
    return {
        m.TYPE: (
            "commands" if m.KIND == "command" else "events",
            frozenset(contract.publishers(m)),
            frozenset(contract.consumers(m)),
        )
        for m in contract.models()
    }


def differences(text: str) -> list[str]:
    written, expected = readme_rows(text), contract_rows()
    return [
        f"{t}: README says {written.get(t)}, the contract {expected.get(t)}"
        for t in sorted(set(written) | set(expected))
        if written.get(t) != expected.get(t)
    ]


@pytest.mark.parametrize("role", sorted(MAIN_MODULES))
def test_each_service_s_routes_are_what_its_role_consumes(role: str) -> None:
    module = main_module(role)
    routes: dict[str, Any] = getattr(module, "ROUTES", {}) if module is not None else {}
    if module is not None and hasattr(module, "ROLE"):
        assert module.ROLE == role
    assert set(routes) == contract.role(role).consumed_types
    for message_type, route in routes.items():
        assert route.model.TYPE == message_type and route.model in contract.role(role).consumes


def test_the_topology_binds_each_queue_to_what_its_role_consumes_and_nothing_else() -> None:
    derived = {name: {(b.exchange, b.routing_key) for b in bindings} for name, bindings in topology.ROLES.items()}
    expected = {
        r.name: {("commands" if m.KIND == "command" else "events", m.TYPE) for m in r.consumes}
        for r in contract.ROLES.values()
        if r.consumes and not r.outside
    }
    assert derived == expected
    assert topology.CONSUMED_TYPES == frozenset().union(*(r.consumed_types for r in contract.ROLES.values()))


def test_every_message_in_the_table_has_a_schema_and_every_message_someone_who_publishes_it() -> None:
    documented = schemas()
    for model in contract.models():
        assert BY_TYPE[model.TYPE] is model
        assert f"{model.TYPE}.json" in documented
    assert [m.TYPE for m in ALL if not contract.publishers(m)] == []


def test_the_readme_s_events_table_is_the_contract() -> None:
    assert differences(README.read_text(encoding="utf-8")) == [], "edit README.md's table or shared/contracts/roles.py"


def test_a_readme_that_drifts_from_the_contract_is_caught() -> None:
    text = README.read_text(encoding="utf-8")
    drifted = text.replace(
        "| `message.failed` | events | sender | — |", "| `message.failed` | events | sender | billing |"
    )
    assert drifted != text
    assert differences(drifted) == [
        "message.failed: README says ('events', frozenset({'sender'}), frozenset({'billing'})), "
        "the contract ('events', frozenset({'sender'}), frozenset())"
    ]
    assert any("flow.event" in d for d in differences(text.replace("`flow.event`, ", "")))


async def test_a_worker_whose_routes_differ_from_its_contract_does_not_start() -> None:
    router = importlib.import_module("router.__main__")
    routes = {
        WebhookReceived.TYPE: router.ROUTES[WebhookReceived.TYPE],
        SendMessage.TYPE: router.ROUTES[WebhookReceived.TYPE],
        "number.activated": router.ROUTES["number.activated"],
    }
    with pytest.raises(
        contract.ContractViolation, match=r"not handled \['message.sent'\].*not consumed \['message.send'\]"
    ):
        # Refused before anything connects: the settings point nowhere.
        await run_worker(Settings(amqp_url="amqp://nowhere:1/"), "router", routes, router.bootstrap)


async def test_a_publisher_opened_for_a_role_refuses_a_type_the_role_does_not_publish() -> None:
    # Refused before the channel is touched, so none is needed to show it.
    publisher = Publisher(cast(Any, None), topology.Topology("never-declared"), role="router")
    command = wrap(SendMessage(client_id=uuid.UUID(int=0), phone_number_id="1", to="2", text="hi"), correlation_id="c")
    with pytest.raises(contract.ContractViolation, match=re.escape("router may not publish 'message.send'")):
        await publisher.publish(command)
    with pytest.raises(contract.ContractViolation, match="no role 'routr'"):
        Publisher(cast(Any, None), topology.Topology("never-declared"), role="routr")

"""The router's handlers called directly with the Deps of its own ``bootstrap()`` (its settings class, a publisher
held to the router's contract, the outbox relay running), on the real PostgreSQL and RabbitMQ. Meta is only the
webhook body here, so nothing is faked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from router.__main__ import ROLE, bootstrap
from router.deps import Deps
from router.handlers import record_outbound, route_webhook
from router.settings import RouterSettings
from shared.contracts.envelope import wrap
from shared.contracts.messages import MessageSent
from shared.messaging.runtime import Infrastructure, infrastructure
from shared.settings import Settings
from tests.support.broker import Tap
from tests.support.payloads import new_wamid, notification, text_message
from tests.support.router import raw_webhook
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"


@pytest.fixture
async def deps(infra: Infrastructure[Settings]) -> AsyncIterator[Deps]:
    common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
    async with infrastructure(RouterSettings(**common), role=ROLE) as own, bootstrap(own) as value:
        yield value


async def test_a_customer_message_is_stored_once_and_announced_once_even_when_redelivered(
    deps: Deps, tap: Tap, tenant: Tenant
) -> None:
    message = text_message("Hola, ¿tienen oficinas?", sender=CUSTOMER)
    envelope = raw_webhook(notification(tenant.phone_number_id, messages=[message]))

    await route_webhook(envelope, deps)
    await route_webhook(envelope, deps)  # the broker redelivers: nothing new

    (announced,) = await tap.wait_for("message.received")
    assert announced["data"]["wamid"] == message["id"] and announced["tenant_id"] == str(tenant.client_id)
    assert announced["data"]["text"] == "Hola, ¿tienen oficinas?"
    stored = await deps.pool.fetchval("SELECT count(*) FROM router.messages WHERE wamid = $1", message["id"])
    assert stored == 1
    assert tap.of_type("message.received") == [announced]


async def test_a_reply_the_sender_sent_is_recorded_once_as_the_business_s_message(deps: Deps, tenant: Tenant) -> None:
    sent = wrap(
        MessageSent(
            client_id=tenant.client_id,
            send_id=uuid.uuid4(),
            phone_number_id=tenant.phone_number_id,
            to=CUSTOMER,
            wamid=new_wamid(),
            text="Con gusto, el martes a las 10.",
            sent_at=datetime.now(UTC),
        ),
        correlation_id="corr-unit",
        tenant_id=tenant.client_id,
    )
    await record_outbound(sent, deps)
    await record_outbound(sent, deps)  # redelivered

    rows = await deps.pool.fetch(
        "SELECT client_id, direction, body FROM router.messages WHERE wamid = $1", sent.data.wamid
    )
    assert [(r["client_id"], r["direction"], r["body"]) for r in rows] == [
        (tenant.client_id, "outbound", "Con gusto, el martes a las 10.")
    ]

"""Billing's handlers with the Deps its own ``bootstrap()`` builds, for its own settings and role, on the real
PostgreSQL and RabbitMQ. Billing calls nothing outside wamux, so nothing here is faked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billing.__main__ import ROLE, bootstrap
from billing.handlers import Deps
from billing.settings import BillingSettings
from shared.messaging.runtime import Infrastructure, infrastructure
from shared.settings import Settings


@pytest.fixture
async def deps(infra: Infrastructure[Settings]) -> AsyncIterator[Deps]:
    """As ``python -m billing`` builds them: its settings class, a publisher held to billing's contract."""
    common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
    async with infrastructure(BillingSettings(**common), role=ROLE) as own, bootstrap(own) as value:
        yield value

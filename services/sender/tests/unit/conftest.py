"""The sender's handlers with the Deps its own ``bootstrap()`` builds, for its own settings and role, on the real
PostgreSQL and RabbitMQ; the sandbox's Cloud API emulator, over HTTP, stands for Meta."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from sender.__main__ import ROLE, bootstrap
from sender.handlers import Deps
from sender.settings import SenderSettings
from shared.messaging.runtime import Infrastructure, infrastructure
from shared.settings import Settings
from tests.support.sandbox import Sandbox

SenderDeps = Callable[..., AbstractAsyncContextManager[Deps]]


@pytest.fixture
def sender_deps(infra: Infrastructure[Settings], sandbox: Sandbox) -> SenderDeps:
    """``sender_deps(**settings)``: the Deps ``python -m sender`` would build with these settings (Meta's limits,
    the token, …) pointed at the emulator."""

    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Deps]:
        common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
        settings = SenderSettings(
            **common, **{"graph_base_url": sandbox.graph_url, "graph_token": "test-graph-token", **overrides}
        )
        async with infrastructure(settings, role=ROLE) as own, bootstrap(own) as deps:
            yield deps

    return build


@pytest.fixture
async def deps(sender_deps: SenderDeps) -> AsyncIterator[Deps]:
    async with sender_deps() as value:
        yield value

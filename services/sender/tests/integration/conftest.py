"""The sender's deps against the sandbox's Meta emulator (the production Graph client over HTTP), the real database
and broker; test limits small enough to reach."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sender.handlers import Deps
from sender.limits import Limits
from shared.graph.client import graph_client
from shared.messaging.runtime import Infrastructure
from tests.support.sandbox import Sandbox


@pytest.fixture
async def deps(infra: Infrastructure, sandbox: Sandbox) -> AsyncIterator[Deps]:
    settings = infra.settings.model_copy(update={"graph_base_url": sandbox.graph_url})
    async with graph_client(settings) as graph:
        yield Deps(
            infra.pool, infra.publisher, graph, Limits(number_rate_per_s=80, pair_rate_per_s=1 / 6, pair_burst=3)
        )

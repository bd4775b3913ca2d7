"""The ai-worker's handler with the Deps its own ``bootstrap()`` builds, for its own settings and role, on the real
PostgreSQL and RabbitMQ; the sandbox's OpenAI-compatible stub stands for the model (the only fake)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ai_worker.__main__ import ROLE, bootstrap
from ai_worker.handlers import Deps
from ai_worker.settings import AiWorkerSettings
from shared.messaging.runtime import Infrastructure, infrastructure
from shared.settings import Settings
from tests.support.sandbox import Sandbox

BURST_WINDOW_MS = 1000  # the production default: a message younger than this waits for the rest of its burst


@pytest.fixture
async def deps(infra: Infrastructure[Settings], sandbox: Sandbox) -> AsyncIterator[Deps]:
    """As ``python -m ai_worker`` builds them: its settings class, the openai client, a publisher held to the
    ai-worker's contract."""
    common = {name: getattr(infra.settings, name) for name in Settings.model_fields if name != "service"}
    settings = AiWorkerSettings(
        **common,
        openai_base_url=f"{sandbox.llm_url}/v1",
        openai_model="stub-model",
        openai_api_key="test",
        reply_burst_window_ms=BURST_WINDOW_MS,
    )
    async with infrastructure(settings, role=ROLE) as own, bootstrap(own) as value:
        yield value

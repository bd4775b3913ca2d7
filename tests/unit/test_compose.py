"""docker-compose.yml hands each wamux service exactly the variables its settings class reads (no secret of
another's; none of its own missing, so an operator's .env reaches it) — the launcher's rule, for Docker users."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from launcher.environment import variables_of
from sandbox.config import SandboxSettings
from shared.settings import variables

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text(encoding="utf-8"))
ALIASES = {"WAMUX_OPENAI_API_KEY"}  # read as OPENAI_API_KEY too: compose passes that one


@pytest.mark.parametrize("service", ["gateway", "router", "ai-worker", "sender", "billing", "directory"])
def test_each_service_is_handed_exactly_what_it_reads(service: str) -> None:
    handed = set(COMPOSE["services"][service].get("environment") or {})
    reads = set(variables_of(service))
    assert handed - reads == set(), "compose hands it variables it does not read"
    assert reads - handed - ALIASES == set(), "compose cannot pass these from .env"


def test_the_sandbox_is_handed_only_its_own_settings_and_the_directory_a_prefetch_its_pool_allows() -> None:
    assert set(COMPOSE["services"]["sandbox"]["environment"]) <= set(variables(SandboxSettings))
    assert COMPOSE["services"]["directory"]["environment"]["WAMUX_PREFETCH"].endswith(":-3}")

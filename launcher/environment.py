"""The environment of each wamux process started by the launcher: only the configuration it reads.

A process is handed a ``WAMUX_*`` variable (or ``OPENAI_API_KEY``) only when its settings class has the field,
so a secret reaches only the processes that use it; everything else in the environment (``PATH``, …) passes.
"""

from __future__ import annotations

import importlib

from shared.settings import variables

# Each process's settings class: what it reads from the environment is all it is given.
SETTINGS: dict[str, str] = {
    "sandbox": "sandbox.config:SandboxSettings",
    "gateway": "gateway.settings:GatewaySettings",
    "router": "router.settings:RouterSettings",
    "ai-worker": "ai_worker.settings:AiWorkerSettings",
    "sender": "sender.settings:SenderSettings",
    "billing": "billing.settings:BillingSettings",
    "directory": "directory.settings:DirectorySettings",
}
# Configuration of wamux and its LLM key: passed to a process only when its settings class reads it.
CONFIGURATION_PREFIXES = ("WAMUX_", "OPENAI_API_KEY")


def variables_of(name: str) -> frozenset[str]:
    module, _, cls = SETTINGS[name].partition(":")
    return frozenset(v.upper() for v in variables(getattr(importlib.import_module(module), cls)))


def environment(name: str, base: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """``base`` and ``overrides`` merged, without the configuration the process ``name`` does not read."""
    wanted = variables_of(name)
    return {
        key: value
        for key, value in {**base, **overrides}.items()
        if not key.upper().startswith(CONFIGURATION_PREFIXES) or key.upper() in wanted
    }

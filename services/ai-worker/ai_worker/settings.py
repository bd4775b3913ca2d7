"""The ai-worker's settings: the broker and database, and the LLM (no Meta secret: it never calls Graph)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

from shared.settings import Settings


class AiWorkerSettings(Settings):
    service: str = "ai-worker"

    # Any OpenAI-compatible endpoint. The key is read as the openai package reads it.
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = 30.0
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("OPENAI_API_KEY", "WAMUX_OPENAI_API_KEY")
    )
    history_messages: int = 20
    # How young a customer message is still answered later, not now (ms since the router stored it): a burst
    # written within it gets one reply (DESIGN, invariant 3) instead of one per bubble. 1000 ms catches what
    # arrives as a burst within milliseconds (several photos sent at once, pasted or forwarded messages); the wait
    # is a 1 s retry (the smallest retry tier, topology.RETRY_TIERS_S), which a window up to 1000 ms costs alike,
    # while "typing…" shows at once. 0 answers at once (latency benchmarks).
    reply_burst_window_ms: int = 1000

"""The ai-worker's settings: the broker and database, and the LLM (no Meta secret: it never calls Graph)."""

from __future__ import annotations

from shared.settings import LLMSettings, Settings


class AiWorkerSettings(Settings, LLMSettings):
    service: str = "ai-worker"

    history_messages: int = 20
    # How young a customer message is still answered later, not now (ms since the router stored it): a burst
    # written within it gets one reply (DESIGN, invariant 3) instead of one per bubble. 1000 ms catches what
    # arrives as a burst within milliseconds (several photos sent at once, pasted or forwarded messages); the wait
    # is a 1 s retry (the smallest retry tier, topology.RETRY_TIERS_S), which a window up to 1000 ms costs alike,
    # while "typing…" shows at once. 0 answers at once (latency benchmarks).
    reply_burst_window_ms: int = 1000

"""Process configuration, read once from the environment (prefix ``WAMUX_``) in each ``main``.

Nothing else in wamux reads ``os.environ``: a ``Settings`` is built at start-up and passed down.
Secrets are ``SecretStr`` so that they never appear in a repr, a log line or a traceback.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAMUX_", env_file=None, extra="ignore", frozen=True)

    service: str = "wamux"
    log_level: str = "INFO"

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Names every exchange and queue: "wamux.events", "wamux.router", … (tests use a random one).
    broker_prefix: str = "wamux"
    publish_timeout_s: float = 5.0
    connect_timeout_s: float = 10.0
    reconnect_interval_s: float = 2.0
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/test")
    db_pool_max: int = 10
    # Messages taken from a queue before the first is acked: bounded so one replica never hoards work.
    prefetch: int = 16

    # Meta: the app's webhook secret, the verify token chosen in the App Dashboard, the system-user token.
    app_secret: SecretStr = SecretStr("")
    verify_token: SecretStr = SecretStr("")
    graph_base_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v23.0"
    graph_token: SecretStr = SecretStr("")
    graph_timeout_s: float = 10.0

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

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # Meta documents webhook payloads of up to 3 MB (history sync, large batches); past this: 413.
    max_body_bytes: int = 4 * 1024 * 1024
    # Webhook bodies read at once, in bytes, before their signature is known (gateway/signed_body.py states the
    # bound): bodies declared up to webhook_small_body_bytes share the small allowance (Meta's usual 1-3 KB never
    # wait behind large ones), larger and chunked ones (counted as max_body_bytes) the large budget. A body
    # waits up to webhook_budget_wait_s for room (then 503, Meta retries) and must arrive within
    # webhook_read_timeout_s (then 408).
    webhook_body_budget_bytes: int = 32 * 1024 * 1024
    webhook_small_body_bytes: int = 64 * 1024
    webhook_small_budget_bytes: int = 4 * 1024 * 1024
    webhook_budget_wait_s: float = 1.0
    webhook_read_timeout_s: float = 10.0
    # Failed API keys allowed per client address and minute, then 429 (counted in each gateway process).
    api_key_failures_per_minute: int = 10
    # Proxies whose X-Forwarded-For names the client (JSON list of CIDRs, e.g. the ingress controller's pods:
    # '["10.0.0.0/8"]'). Empty: the client is the TCP peer.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()

    # Per-number throughput (Meta's default tier) and the per-recipient pair rate (reported: ~1 per 6 s).
    number_rate_per_s: float = 80.0
    pair_rate_per_s: float = 1 / 6
    pair_burst: int = 45

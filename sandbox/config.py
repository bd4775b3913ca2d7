"""Settings of the sandbox, read from the environment with the same ``WAMUX_`` prefix as the services.

Sharing ``WAMUX_APP_SECRET`` and ``WAMUX_GRAPH_TOKEN`` with the services is the point: the emulator signs
webhooks and checks bearer tokens with exactly the values the gateway and sender are configured with.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAMUX_", env_file=None, extra="ignore", frozen=True)

    # Meta signs every webhook POST with the app secret (X-Hub-Signature-256).
    app_secret: SecretStr = SecretStr("")
    # The bearer token the emulator accepts. Empty accepts any non-empty token, for quick local runs.
    graph_token: SecretStr = SecretStr("")

    sandbox_host: str = "127.0.0.1"
    sandbox_graph_port: int = Field(default=8081, ge=0, le=65535)
    sandbox_llm_port: int = Field(default=8082, ge=0, le=65535)
    # Where Meta would deliver webhooks; an empty string turns webhook delivery off.
    sandbox_webhook_url: str = "http://127.0.0.1:8080/webhook/whatsapp"
    # Pause between the sent, delivered and read statuses of one message.
    sandbox_status_delay_s: float = Field(default=0.05, ge=0)
    # Meta retries failed webhook deliveries with backoff (for days); the sandbox gives up sooner.
    sandbox_webhook_attempts: int = Field(default=4, ge=1)
    sandbox_webhook_backoff_s: float = Field(default=0.5, ge=0)

    # Meta's default throughput tier: 80 messages/s per business number.
    sandbox_throughput_per_s: float = Field(default=80.0, gt=0)
    # Pair rate (reported, not documented by Meta): ~1 message per 6 s to one customer, bursts up to ~45.
    sandbox_pair_rate_per_s: float = Field(default=1 / 6, gt=0)
    sandbox_pair_burst: int = Field(default=45, ge=1)

    # Meta's media download URLs are valid for about 5 minutes after GET /{media_id} hands them out.
    sandbox_media_url_ttl_s: float = Field(default=300.0, ge=0)
    # Media (uploads and customers' files) is kept in memory; past this total the oldest is forgotten.
    sandbox_media_store_bytes: int = Field(default=64 * 1024 * 1024, ge=1)

    # The Meta app and its Embedded Signup configuration, as the App Dashboard names them. The signup page
    # refuses other ids; /oauth/access_token checks client_id against app_id and client_secret against app_secret.
    app_id: str = "1000000000000001"
    signup_config_id: str = "2000000000000002"
    app_name: str = "wamux sandbox"
    # Meta: an Embedded Signup code "lives 30 seconds" and is single-use.
    sandbox_signup_code_ttl_s: float = Field(default=30.0, gt=0)
    # Meta: 10 register requests per number in a 72-hour moving window; the next is 133016 and blocks 72 h.
    sandbox_register_limit: int = Field(default=10, ge=1)
    sandbox_register_window_s: float = Field(default=72 * 3600.0, gt=0)
    # Meta calls an override callback with the hub.challenge GET before accepting it (#2200 when that fails).
    sandbox_verify_callbacks: bool = True

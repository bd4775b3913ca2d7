"""The gateway's settings: Meta's webhook secrets, the HTTP listener and its limits, and Graph for the media proxy
(``GET /api/clients/{id}/media/{media_id}`` fetches a customer's media from Meta with the system-user token)."""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork, SecretStr

from shared.settings import GraphSettings, LLMSettings, MetaAppSettings, Settings, SignupLinkSettings


class GatewaySettings(Settings, GraphSettings, MetaAppSettings, SignupLinkSettings, LLMSettings):
    service: str = "gateway"

    # Meta: the app's webhook secret (MetaAppSettings.app_secret), the verify token chosen in the App Dashboard.
    verify_token: SecretStr = SecretStr("")

    # A client's "try it" of its personality (POST /api/clients/{id}/personality/try) asks the model at most this
    # often a minute (each costs the client's tokens; counted per gateway replica).
    personality_tries_per_minute: int = 20
    # The operator's key for the REST calls that act for any client (POST /api/clients, onboardings).
    operator_api_key: SecretStr = SecretStr("")
    # Meta's JS SDK, loaded by the signup page to open Embedded Signup's popup (the demo: the emulator's /sdk.js).
    signup_sdk_url: str = "https://connect.facebook.net/en_US/sdk.js"

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
    # Group commit (gateway/group_commit.py): the most webhooks one confirmed publish carries — those that arrived
    # while the broker confirmed the ones before. 1: a publish per webhook.
    webhook_group_max: int = Field(default=64, ge=1, le=1000)
    # Failed API keys allowed per client address and minute, then 429 (counted in each gateway process).
    api_key_failures_per_minute: int = 10
    # Proxies whose X-Forwarded-For names the client (JSON list of CIDRs, e.g. the ingress controller's pods:
    # '["10.0.0.0/8"]'). Empty: the client is the TCP peer.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()

"""The directory's settings (``python -m directory`` and ``python -m directory.admin``): the broker and the
database; Meta's Graph API and the app that onboards numbers; the signup links; the keys of the credentials."""

from __future__ import annotations

from pydantic import SecretStr, model_validator

from shared.settings import CredentialSettings, GraphSettings, MetaAppSettings, Settings, SignupLinkSettings


class DirectorySettings(Settings, GraphSettings, MetaAppSettings, SignupLinkSettings, CredentialSettings):
    service: str = "directory"
    # Few deliveries at once: an onboarding step holds a connection while it calls Meta and takes a second one to
    # keep a token or PIN; its commands and the unrouted queue take one each (see the check below).
    prefetch: int = 3

    # The agency's own WABA, where the manual path (SMS or voice code) adds a client's number.
    manual_waba_id: str = ""
    # The WABA's webhooks are sent here after subscribing (a second call): the gateway's webhook URL, checked by
    # Meta with verify_token. Empty: {public_base_url}/webhook/whatsapp.
    webhook_callback_url: str = ""
    verify_token: SecretStr = SecretStr("")
    # Tries of one Meta call that failed with a retryable error (backoff 1 s, 5 s, 30 s, 2 min, 10 min), then failed.
    onboarding_max_attempts: int = 6
    # An onboarding whose call has not moved for this long is sent its step again (a lost or dead-lettered step).
    onboarding_stuck_after_s: float = 900.0

    @model_validator(mode="after")
    def _pool_outlasts_prefetch(self) -> DirectorySettings:
        """Each delivery in hand may hold two connections (a step) and the unrouted consumer's one: with fewer in
        the pool, steps waiting for their second connection could hold them all, and nothing would move."""
        if self.db_pool_max < 3 * self.prefetch:
            raise ValueError(
                f"WAMUX_DB_POOL_MAX ({self.db_pool_max}) must be at least 3 × WAMUX_PREFETCH ({self.prefetch}) for "
                "the directory: lower the prefetch or raise the pool"
            )
        return self

    @property
    def callback_url(self) -> str:
        return self.webhook_callback_url or f"{self.public_base_url.rstrip('/')}/webhook/whatsapp"

"""The sender's settings: the broker and database, Meta's Graph API, the keys that open clients' business
tokens, and Meta's limits it holds."""

from __future__ import annotations

from shared.settings import CredentialSettings, GraphSettings, Settings


class SenderSettings(Settings, GraphSettings, CredentialSettings):
    service: str = "sender"

    # Per-number throughput (Meta's default tier) and the per-recipient pair rate (reported: ~1 per 6 s).
    number_rate_per_s: float = 80.0
    pair_rate_per_s: float = 1 / 6
    pair_burst: int = 45

"""Billing's settings: the broker and the database, nothing else (it holds no Meta or LLM secret)."""

from __future__ import annotations

from shared.settings import Settings


class BillingSettings(Settings):
    service: str = "billing"

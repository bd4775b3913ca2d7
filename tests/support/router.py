"""Helpers for tests that drive the router's handlers directly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import WebhookReceived


def raw_webhook(payload: Any, correlation_id: str = "corr-test") -> Envelope[WebhookReceived]:
    """A ``webhook.received`` envelope as the gateway publishes it."""
    return wrap(WebhookReceived(body=json.dumps(payload), received_at=datetime.now(UTC)), correlation_id=correlation_id)

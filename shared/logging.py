"""structlog JSON logs: one event per line with ``service``, ``tenant_id`` and ``correlation_id``.

Context is bound with :func:`bind_context` (contextvars), so every log line inside a handler carries the
tenant and correlation id of the message being handled. Phone numbers are masked, wamids hashed and secrets
dropped by a processor, whatever field they appear in.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

_SECRET_KEYS = frozenset({"token", "app_secret", "api_key", "authorization", "password", "secret", "key"})
# wa_ids and E.164 numbers: 8 to 15 digits, optionally after '+'. Keep the country code and the last 2.
_PHONE = re.compile(r"(?<![\w-])\+?(\d{2})\d{4,11}(\d{2})(?![\w-])")
# Meta's wamid is base64 of bytes that include the customer's number: personal data, logged only as a hash.
_WAMID = re.compile(r"wamid\.[A-Za-z0-9+/_=-]+")


def mask_phone(text: str) -> str:
    return _PHONE.sub(lambda m: f"{m.group(1)}…{m.group(2)}", text)


def wamid_hash(wamid: str) -> str:
    """A wamid as logs carry it: short and stable (lines about one message still match), never the wamid."""
    return "wamid:" + hashlib.sha256(wamid.encode()).hexdigest()[:12]


def _scrub(value: Any, mask_phones: bool) -> Any:
    if isinstance(value, str):
        value = _WAMID.sub(lambda m: wamid_hash(m.group(0)), value)
        return mask_phone(value) if mask_phones else value
    if isinstance(value, list | tuple):
        return [_scrub(item, mask_phones) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, mask_phones) for key, item in value.items()}
    return value


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for field, value in list(event.items()):
        if field.lower() in _SECRET_KEYS:
            event[field] = "[redacted]"
        elif (field.lower() == "wamid" or field.lower().endswith("_wamid")) and isinstance(value, str):
            event[field] = wamid_hash(value)
        else:
            event[field] = _scrub(value, mask_phones=field not in ("correlation_id", "tenant_id", "timestamp"))
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def bind_context(**fields: Any) -> Iterator[None]:
    tokens = structlog.contextvars.bind_contextvars(**{k: str(v) for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)

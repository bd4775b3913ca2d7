"""wamids are personal data in logs: Meta's wamid is base64 of bytes that include the customer's number."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import structlog

from shared.logging import configure_logging, get_logger

CUSTOMER = "15551234567"
# The shape of Meta's wamids: a protobuf-like prefix, the customer's number, then the message's own id.
WAMID = "wamid." + base64.b64encode(b"\x1c\x18\x0b" + CUSTOMER.encode() + b"\x15\x02\x00\x12\x183EB0C7A1F2D4").decode()
OTHER = "wamid." + base64.b64encode(b"\x1c\x18\x0b" + CUSTOMER.encode() + b"\x15\x02\x00\x12\x183EB0FFFFFFFF").decode()


def logged(capsys: pytest.CaptureFixture[str], emit: Callable[[Any], None]) -> list[str]:
    """The lines ``emit(log)`` writes (configured inside the test: pytest swaps stdout between phases)."""
    configure_logging("router")
    try:
        emit(get_logger())
    finally:
        structlog.reset_defaults()
    return capsys.readouterr().out.strip().splitlines()


def decoded_numbers(line: str) -> bool:
    """Whether any wamid-like token left in the line still decodes to the customer's number."""
    for token in line.replace('"', " ").split():
        if token.startswith("wamid."):
            with_padding = token[6:] + "=" * (-len(token[6:]) % 4)
            if CUSTOMER.encode() in base64.b64decode(with_padding, validate=False):
                return True
    return False


def test_no_log_line_carries_a_raw_wamid_or_the_number_inside_it(capsys: pytest.CaptureFixture[str]) -> None:
    def emit(log: Any) -> None:
        log.info("reply.written", wamid=WAMID, reply_to_wamid=OTHER, chars=12)
        log.warning("send.failed", error=f"Meta refused the reply to {WAMID}: (131047)", wamids=[WAMID, OTHER])
        log.info(f"status.for {WAMID}")

    lines = logged(capsys, emit)
    assert len(lines) == 3
    for line in lines:
        assert WAMID not in line and OTHER not in line
        assert WAMID[6:] not in line and CUSTOMER not in line
        assert not decoded_numbers(line)


def test_the_same_wamid_has_the_same_short_hash_in_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    def emit(log: Any) -> None:
        log.info("message.duplicate", wamid=WAMID)
        log.info("reply.coalesced", context_wamid=WAMID, error=f"late: {WAMID}")
        log.info("reply.written", wamid=OTHER)

    first, second, third = (json.loads(line) for line in logged(capsys, emit))
    assert first["wamid"].startswith("wamid:") and len(first["wamid"]) == len("wamid:") + 12
    assert first["wamid"] == second["context_wamid"]
    assert second["error"] == f"late: {first['wamid']}"
    assert third["wamid"] != first["wamid"]

from __future__ import annotations

import json

import structlog

from shared.logging import bind_context, configure_logging, get_logger, mask_phone
from shared.messaging import topology


def test_retry_delay_rounds_up_to_a_declared_tier() -> None:
    assert topology.retry_tier(0.01) == 1
    assert topology.retry_tier(1) == 1
    assert topology.retry_tier(6) == 30
    assert topology.retry_tier(10_000) == topology.RETRY_TIERS_S[-1]


def test_names_carry_the_prefix() -> None:
    names = topology.Topology("wamux")
    assert names.queue("ai-worker") == "wamux.ai-worker"
    assert names.retry_queue("sender", 5) == "wamux.sender.retry.5s"
    assert names.dead_queue("router") == "wamux.router.dead"
    assert names.exchange_for("command") == "wamux.commands"


def test_phone_numbers_are_masked() -> None:
    assert mask_phone("from 573001112233 to +576015550100") == "from 57…33 to 57…00"
    assert mask_phone("wamid.HBgMNTczMDAxMTEyMjMzFQIAEhgg") == "wamid.HBgMNTczMDAxMTEyMjMzFQIAEhgg"


def test_log_lines_are_json_with_context_and_no_secrets(capsys) -> None:  # type: ignore[no-untyped-def]
    configure_logging("router")
    with bind_context(correlation_id="c-1", tenant_id="t-1"):
        get_logger().info("reply.sent", to="573001112233", token="EAAG-secret", api_key="wmx_x")
    structlog.reset_defaults()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "reply.sent"
    assert (line["service"], line["correlation_id"], line["tenant_id"]) == ("router", "c-1", "t-1")
    assert line["to"] == "57…33"
    assert line["token"] == "[redacted]" and line["api_key"] == "[redacted]"

"""Outages of the platform's own servers: replies are delayed, never lost."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess

import pytest

from launcher.stack import Stack
from tests.e2e.test_message_path import eventually, outbox, post_webhook, signed
from tests.support.payloads import body, notification, text_message
from tests.support.tenants import create_tenant

pytestmark = pytest.mark.e2e
PG_CTL = shutil.which("pg_ctlcluster")


def _cluster(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run([PG_CTL, "--skip-systemctl-redirect", version, "main", action], check=True, timeout=60)  # type: ignore[list-item]


def _retries(stack: Stack, service: str) -> int:
    lines = stack.log(service).read_text().splitlines()
    return sum(1 for line in lines if line.startswith("{") and json.loads(line).get("event") == "message.retry")


@pytest.mark.skipif(PG_CTL is None or not os.path.isdir("/etc/postgresql"), reason="needs the local PostgreSQL cluster")
async def test_a_database_outage_delays_the_reply_and_loses_nothing(stack: Stack, database_url: str) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001118001"
    raw = body(notification(tenant.phone_number_id, messages=[text_message("¿Siguen atendiendo?", sender=customer)]))
    retries_before = _retries(stack, "router")
    await asyncio.to_thread(_cluster, "stop")
    try:
        # The gateway needs only the broker to take Meta's webhook: accepted while the database is down.
        assert await post_webhook(stack, raw, signed(raw)) == 200

        async def router_retrying() -> bool:
            return _retries(stack, "router") > retries_before

        await eventually(router_retrying, "the router retrying while the database is down")
    finally:
        await asyncio.to_thread(_cluster, "start")
    (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the reply once the database is back", 90)
    assert "¿Siguen atendiendo?" in reply["text"]


RABBITMQCTL = shutil.which("rabbitmqctl")


def _broker(action: str) -> None:
    subprocess.run([RABBITMQCTL, action], check=True, timeout=120, capture_output=True)  # type: ignore[list-item]


@pytest.mark.skipif(RABBITMQCTL is None, reason="needs the local RabbitMQ node")
async def test_a_broker_restart_refuses_webhooks_meanwhile_then_everything_resumes(
    stack: Stack, database_url: str
) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001118002"
    raw = body(notification(tenant.phone_number_id, messages=[text_message("¿Hay alguien ahí?", sender=customer)]))
    await asyncio.to_thread(_broker, "stop_app")
    try:
        # Nothing can be confirmed: Meta is told to retry (it does, for days), nothing is lost meanwhile.
        assert await post_webhook(stack, raw, signed(raw)) == 503
    finally:
        await asyncio.to_thread(_broker, "start_app")

    async def accepted() -> bool:  # Meta's retry, once the gateway has reconnected
        return await post_webhook(stack, raw, signed(raw)) == 200

    await eventually(accepted, "the gateway accepting webhooks again", 60)
    # Every worker's consumer was restored with its connection: the message goes the whole way.
    (reply,) = await eventually(lambda: outbox(stack, tenant, customer), "the reply after the restart", 60)
    assert "¿Hay alguien ahí?" in reply["text"]

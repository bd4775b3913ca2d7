"""The client's usage page over HTTP: free conversations per number with the 80 % and 100 % alerts, what the
client's policy does at 100 %, and the day-by-day series in the client's timezone. Conversations are counted by
billing's own handler and messages recorded by the router's, never written by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from shared.messaging.runtime import Infrastructure
from tests.support.billing import window_opened
from tests.support.payloads import text_message
from tests.support.router import business_wrote, customer_wrote
from tests.support.tenants import Tenant, add_number, create_tenant, random_phone_number, random_phone_number_id

BOGOTA = ZoneInfo("America/Bogota")


@pytest.fixture
async def client(infra: Infrastructure) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(infra.settings))) as test_client:
        yield test_client


async def usage(client: TestClient, tenant: Tenant, query: str = "") -> dict[str, Any]:
    answer = await client.get(
        f"/api/clients/{tenant.client_id}/usage{query}", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert answer.status == 200, await answer.text()
    body: dict[str, Any] = await answer.json()
    return body


async def conversations_opened(infra: Infrastructure, tenant: Tenant, count: int) -> None:
    """``count`` windows opened now with as many customers, each counted by billing."""
    now = datetime.now(UTC)
    for i in range(count):
        await window_opened(infra, tenant, f"5730020{i:05d}", now)


@pytest.mark.parametrize(
    ("free_quota", "opened", "percent", "expected_alert", "free_left", "paid"),
    [(24, 19, 79, None, 5, 0), (5, 4, 80, "warning", 1, 0), (2, 3, 100, "exhausted", 0, 1)],
)
async def test_a_number_warns_from_80_percent_of_its_free_conversations_and_is_exhausted_at_100(
    client: TestClient,
    infra: Infrastructure,
    database_url: str,
    free_quota: int,
    opened: int,
    percent: int,
    expected_alert: str | None,
    free_left: int,
    paid: int,
) -> None:
    tenant = await create_tenant(database_url, free_quota=free_quota)
    await conversations_opened(infra, tenant, opened)
    page = await usage(client, tenant)
    (number,) = page["numbers"]
    assert number["phone_number_id"] == tenant.phone_number_id and number["phone_number"] == tenant.phone_number
    assert (number["free_quota"], number["free_used"], number["free_left"], number["paid"]) == (
        free_quota,
        opened - paid,
        free_left,
        paid,
    )
    assert number["percent_used"] == percent and number["alert"] == expected_alert
    assert page["alert"] == expected_alert


async def test_the_client_s_alert_is_the_worst_of_its_numbers(
    client: TestClient, infra: Infrastructure, database_url: str
) -> None:
    tenant = await create_tenant(database_url, free_quota=1)
    quiet = await add_number(
        database_url, tenant, phone_number=random_phone_number(), phone_number_id=random_phone_number_id()
    )
    await conversations_opened(infra, tenant, 1)
    page = await usage(client, tenant)
    alerts = {n["phone_number_id"]: (n["percent_used"], n["alert"]) for n in page["numbers"]}
    assert alerts == {tenant.phone_number_id: (100, "exhausted"), quiet.phone_number_id: (0, None)}
    assert page["alert"] == "exhausted"


@pytest.mark.parametrize(("policy", "what_next"), [("count_paid", "counted_as_paid"), ("pause_ai", "ai_paused")])
async def test_the_page_says_what_happens_at_100_percent_under_the_client_s_policy(
    client: TestClient, database_url: str, policy: str, what_next: str
) -> None:
    tenant = await create_tenant(database_url, quota_policy=policy, timezone="Asia/Tokyo")
    page = await usage(client, tenant)
    assert (page["policy"], page["what_next"], page["alert"]) == (policy, what_next, None)
    assert page["month"] == datetime.now(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m")


def local(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), BOGOTA)


async def test_every_day_is_in_the_series_with_zeros_and_days_end_at_the_client_s_midnight(
    client: TestClient, infra: Infrastructure, database_url: str
) -> None:
    tenant = await create_tenant(database_url, timezone="America/Bogota")
    stranger = await create_tenant(database_url, timezone="America/Bogota")
    today = datetime.now(BOGOTA).date()
    day = today - timedelta(days=3)
    # 23:30 and 00:10 in Bogotá are 04:30 and 05:10 UTC of the same UTC day: only the client's clock splits them.
    late, early = local(day, 23, 30), local(day + timedelta(days=1), 0, 10)
    assert late.astimezone(UTC).date() == early.astimezone(UTC).date()
    await window_opened(infra, tenant, "573003000001", late)
    await business_wrote(infra, tenant, "573003000001", "¡Hola!", late)
    await customer_wrote(infra, tenant, text_message("gracias", sender="573003000001", timestamp=_ts(late, 20)))
    for minutes in (0, 5):
        await customer_wrote(infra, tenant, text_message("hola", sender="573003000002", timestamp=_ts(early, minutes)))
    await window_opened(infra, tenant, "573003000002", early + timedelta(minutes=10))
    await business_wrote(infra, tenant, "573003000002", "¡Buenas noches!", early + timedelta(minutes=10))
    before = local(today - timedelta(days=7), 12, 0)  # the day before the first of 7 days
    await customer_wrote(infra, tenant, text_message("antes", sender="573003000003", timestamp=_ts(before, 0)))
    await customer_wrote(infra, stranger, text_message("ajeno", sender="573003000004", timestamp=_ts(late, 0)))

    daily = (await usage(client, tenant, "?days=7"))["daily"]

    assert [d["date"] for d in daily] == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    counts = {d["date"]: (d["conversations"], d["messages_in"], d["messages_out"]) for d in daily}
    assert counts.pop(day.isoformat()) == (1, 1, 1)
    assert counts.pop((day + timedelta(days=1)).isoformat()) == (1, 2, 1)
    assert set(counts.values()) == {(0, 0, 0)}


def _ts(at: datetime, minutes: int) -> int:
    return int((at + timedelta(minutes=minutes)).timestamp())


async def test_thirty_days_by_default_and_one_to_ninety_on_request(client: TestClient, tenant: Tenant) -> None:
    assert len((await usage(client, tenant))["daily"]) == 30
    assert len((await usage(client, tenant, "?days=1"))["daily"]) == 1
    ninety = (await usage(client, tenant, "?days=90"))["daily"]
    assert len(ninety) == 90 and ninety[-1]["date"] == datetime.now(BOGOTA).date().isoformat()


@pytest.mark.parametrize("days", ["0", "91", "-3", "treinta", ""])
async def test_days_outside_1_to_90_are_refused_in_plain_words(client: TestClient, tenant: Tenant, days: str) -> None:
    answer = await client.get(
        f"/api/clients/{tenant.client_id}/usage?days={days}", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert answer.status == 400
    assert "days must be a whole number from 1 to 90" in (await answer.json())["error"]


async def test_another_client_s_usage_is_not_found(client: TestClient, tenant: Tenant, database_url: str) -> None:
    other = await create_tenant(database_url)
    crossed = await client.get(
        f"/api/clients/{tenant.client_id}/usage", headers={"Authorization": f"Bearer {other.api_key}"}
    )
    assert crossed.status == 404
    assert (await client.get(f"/api/clients/{tenant.client_id}/usage")).status == 401

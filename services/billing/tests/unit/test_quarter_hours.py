"""Billing remembers a number's month per quarter hour (billing.numbers): that holds only if every month on every
clock starts on a quarter hour of UTC. Checked against the whole tz database, for the years the platform runs."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

from billing.numbers import _quarter_hour


def test_every_month_on_every_clock_starts_on_a_quarter_hour_of_utc() -> None:
    off: list[str] = []
    zones = sorted(zoneinfo.available_timezones())
    assert len(zones) > 300, "no tz database to check against"
    for name in zones:
        zone = zoneinfo.ZoneInfo(name)
        for year in range(2024, 2032):
            for month in range(1, 13):
                start = datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
                if _quarter_hour(start) != start:
                    off.append(f"{name} {year}-{month:02d} starts at {start.isoformat()}")
    assert off == []


def test_a_quarter_hour_is_where_a_moment_falls() -> None:
    assert _quarter_hour(datetime(2026, 11, 30, 18, 29, 59, tzinfo=UTC)) == datetime(2026, 11, 30, 18, 15, tzinfo=UTC)
    assert _quarter_hour(datetime(2026, 12, 1, 5, 0, tzinfo=UTC)) == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)

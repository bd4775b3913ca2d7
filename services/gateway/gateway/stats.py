"""The client's own view: numbers, conversations and usage, behind the client's API key.

A key opens exactly one client's data; any other client id answers 404, as if it did not exist. Usage is the
client's own, by number: a number that came from another client starts from nothing here, and one the client
handed on stays listed under ``former_numbers`` for the rest of the month.

``/usage`` is the dashboard's usage page: each number's free conversations of the month (used, left, paid, and
an alert at 80 % and at 100 %), what happens at 100 % under the client's quota policy, and a day-by-day series in
the client's timezone, every day present.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from aiohttp import web

from gateway.auth import authenticated_client
from gateway.keys import POOL

routes = web.RouteTableDef()
Alert = Literal["warning", "exhausted"] | None
WARNING_PERCENT = 80
MAX_DAYS = 90
# At 100 %: count_paid keeps answering and counts new conversations as paid (billing); pause_ai stops the AI from
# opening new ones (the ai-worker's quota check), replies inside an open window still go.
WHAT_NEXT = {"count_paid": "counted_as_paid", "pause_ai": "ai_paused"}

_STATS_SQL = """
SELECT phone_number, phone_number_id, display_name, status, month, free_quota, free_remaining,
       conversations_this_month, paid_conversations, conversations_total, messages_in, messages_out,
       messages_this_month, messages_delivered, quality_rating, name_status, throughput_level, verified_name
  FROM dashboard.number_usage WHERE client_id = $1 ORDER BY phone_number
"""
# This month's usage of numbers the client has since handed to another client: still its own month.
_FORMER_SQL = """
SELECT phone_number_id, month, moved_at, conversations_this_month, free_used, paid_conversations, messages_in,
       messages_out, messages_this_month, messages_delivered
  FROM dashboard.former_number_usage WHERE client_id = $1 ORDER BY phone_number_id
"""


@routes.get("/api/clients/{client_id}/stats")
async def client_stats(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    pool = request.app[POOL]
    numbers = [_json(r) for r in await pool.fetch(_STATS_SQL, client_id)]
    former = [_json(r) for r in await pool.fetch(_FORMER_SQL, client_id)]
    return web.json_response({"client_id": str(client_id), "numbers": numbers, "former_numbers": former})


def _json(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(row).items()}


_SPAN_SQL = """
SELECT c.quota_policy, to_char(t.today, 'YYYY-MM') AS month, t.today, t.today - ($2::integer - 1) AS first_day,
       (t.today - ($2::integer - 1))::timestamp AT TIME ZONE c.timezone AS since
  FROM directory_read.clients c
 CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE c.timezone)::date AS today) t
 WHERE c.id = $1
"""
# Days without a row are zeros: the series names every day from first_day to today.
_DAILY_SQL = """
WITH counted AS (
  SELECT day, sum(conversations) AS conversations, sum(messages_in) AS messages_in, sum(messages_out) AS messages_out
    FROM dashboard.usage_events
   WHERE client_id = $1 AND at >= $4 AND day BETWEEN $2 AND $3
   GROUP BY day)
SELECT d.day, COALESCE(c.conversations, 0)::integer AS conversations,
       COALESCE(c.messages_in, 0)::integer AS messages_in, COALESCE(c.messages_out, 0)::integer AS messages_out
  FROM (SELECT $2::date + i AS day FROM generate_series(0, $3::date - $2::date) i) d
  LEFT JOIN counted c ON c.day = d.day
 ORDER BY d.day
"""
_QUOTA_SQL = """
SELECT phone_number_id, phone_number, display_name, status, free_quota, free_used, free_remaining AS free_left,
       paid_conversations AS paid
  FROM dashboard.number_usage WHERE client_id = $1 ORDER BY phone_number
"""


@routes.get("/api/clients/{client_id}/usage")
async def client_usage(request: web.Request) -> web.Response:
    client_id = await authenticated_client(request)
    days = _days(request.query.get("days", "30"))
    pool = request.app[POOL]
    span = await pool.fetchrow(_SPAN_SQL, client_id, days)
    if span is None:
        raise web.HTTPNotFound(text="no such client")
    numbers = [_with_alert(dict(r)) for r in await pool.fetch(_QUOTA_SQL, client_id)]
    daily = await pool.fetch(_DAILY_SQL, client_id, span["first_day"], span["today"], span["since"])
    return web.json_response(
        {
            "client_id": str(client_id),
            "month": span["month"],
            "policy": span["quota_policy"],
            "what_next": WHAT_NEXT[span["quota_policy"]],
            "alert": worst(n["alert"] for n in numbers),
            "numbers": numbers,
            "daily": [_on_day(r) for r in daily],
        }
    )


def percent_used(free_used: int, free_quota: int) -> int:
    """Whole percent of the month's free conversations used, rounded down (79.9 % is 79); a quota of 0 is all used."""
    if free_quota <= 0:
        return 100
    return min(free_used * 100 // free_quota, 100)


def alert(free_used: int, free_quota: int) -> Alert:
    used = percent_used(free_used, free_quota)
    return "exhausted" if used >= 100 else "warning" if used >= WARNING_PERCENT else None


def worst(alerts: Iterable[Alert]) -> Alert:
    seen = set(alerts)
    return "exhausted" if "exhausted" in seen else "warning" if "warning" in seen else None


def _with_alert(number: dict[str, Any]) -> dict[str, Any]:
    used, quota = number["free_used"], number["free_quota"]
    return {**number, "percent_used": percent_used(used, quota), "alert": alert(used, quota)}


def _on_day(row: Any) -> dict[str, Any]:
    counts = dict(row)
    return {"date": counts.pop("day").isoformat(), **counts}


def _days(asked: str) -> int:
    try:
        days = int(asked)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise web.HTTPBadRequest(text=f"days must be a whole number from 1 to {MAX_DAYS} (asked: {asked[:20]!r})")
    return days

"""What the onboarding API reads back: the directory's onboardings, numbers and signup links (its read views only),
and the signup link's URL, re-signed from the live link row (the same id and expiry give the same token)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from gateway.commands import STORED_WAIT_S
from gateway.onboarding_schema import Onboarding, OnboardingError, SignupLink, error_text
from gateway.settings import GatewaySettings
from shared import signup_links
from shared.contracts.directory import MetaFailure

_ONBOARDING = """
SELECT id, client_id, phone_number, display_name, method, coexistence, state, step, phone_number_id, waba_id,
       last_error, attempts, suspended_reason, created_at, updated_at
  FROM directory_read.onboardings
"""
ONBOARDING_SQL = _ONBOARDING + " WHERE id = $1"
# The one onboarding of a number that has not failed (a unique index of the directory's).
LIVE_ONBOARDING_SQL = _ONBOARDING + " WHERE phone_number = $1 AND state <> 'failed'"
# This onboarding once stored, else the number's live one: what the directory did with a number.register (ours
# first: once stored it is the number's live one too).
_OURS_OR_LIVE_SQL = (
    _ONBOARDING
    + """ WHERE id = $1 OR (phone_number = $2 AND state <> 'failed')
 ORDER BY id = $1 DESC LIMIT 1"""
)
HOLDER_SQL = "SELECT client_id FROM directory_read.numbers WHERE phone_number = $1"
# A client's onboardings, newest first: those in progress, and the finished or failed ones of the last 30 days.
CLIENT_ONBOARDINGS_SQL = (
    _ONBOARDING
    + """ WHERE client_id = $1
   AND (state NOT IN ('active', 'failed') OR updated_at > now() - interval '30 days')
 ORDER BY created_at DESC LIMIT $2"""
)
_LIVE_LINK_SQL = """
SELECT id, expires_at FROM directory_read.signup_links
 WHERE onboarding_id = $1 AND client_id = $2 AND revoked_at IS NULL AND used_at IS NULL AND expires_at > now()
 ORDER BY created_at DESC LIMIT 1
"""
NOT_YET = "no such onboarding (one registered a moment ago appears once the directory has stored it: retry)"


@dataclass(frozen=True)
class NewLink:
    id: uuid.UUID
    expires_at: datetime


def new_link(settings: GatewaySettings, link_id: uuid.UUID) -> NewLink:
    """A link expiring ``signup_link_days`` from now, in whole seconds as its token holds it."""
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=settings.signup_link_days)
    return NewLink(link_id, expires_at)


def require_link_secret(settings: GatewaySettings) -> None:
    if not settings.signup_link_secret.get_secret_value():
        raise web.HTTPServiceUnavailable(text="signup links disabled: set WAMUX_SIGNUP_LINK_SECRET")


def link_urls(settings: GatewaySettings, onboarding_id: uuid.UUID, link_id: uuid.UUID, expires: datetime) -> SignupLink:
    token = signup_links.sign(settings.signup_link_secret, link_id, expires)
    base = f"/api/onboardings/{onboarding_id}/qr"
    return SignupLink(
        signup_url=signup_links.url(settings.public_base_url, token),
        signup_link_expires_at=expires,
        qr_png_url=f"{base}.png",
        qr_svg_url=f"{base}.svg",
    )


def waits_for_signup(row: asyncpg.Record) -> bool:
    return bool(row["step"] == "await_signup" or row["suspended_reason"] == "reauthorization_needed")


async def live_link(pool: asyncpg.Pool, settings: GatewaySettings, row: asyncpg.Record) -> SignupLink | None:
    """The signup link the client should open now, or None (not waiting for a signup, or no live link)."""
    if row["method"] != "signup" or not waits_for_signup(row) or not settings.signup_link_secret.get_secret_value():
        return None
    link = await pool.fetchrow(_LIVE_LINK_SQL, row["id"], row["client_id"])
    return None if link is None else link_urls(settings, row["id"], link["id"], link["expires_at"])


def onboarding(row: asyncpg.Record, link: SignupLink | None) -> Onboarding:
    values: dict[str, Any] = {k: row[k] for k in row.keys() if k not in ("id", "last_error")}
    error = None
    if row["last_error"]:
        failure = MetaFailure.model_validate(row["last_error"])
        error = OnboardingError(**failure.model_dump(), text=error_text(failure))
    return Onboarding(onboarding_id=row["id"], error=error, **values, **(link or SignupLink()).model_dump())


async def ours_or_live(
    pool: asyncpg.Pool, onboarding_id: uuid.UUID, e164: str, wait_s: float = STORED_WAIT_S
) -> asyncpg.Record | None:
    """The onboarding a just-published ``number.register`` opened, or the number's live one that made the directory
    answer with it or refuse it instead (a concurrent registration of the same number); None within ``wait_s``.
    One query polled, so either answer comes in milliseconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while (row := await pool.fetchrow(_OURS_OR_LIVE_SQL, onboarding_id, e164)) is None:
        if loop.time() > deadline:
            return None
        await asyncio.sleep(0.02)
    return row

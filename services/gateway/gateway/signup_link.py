"""A signup link as the gateway opens it: the signature (``shared.signup_links``), the directory's record of it
(``directory_read.signup_links`` with its onboarding and client), whether it can still start a signup, and the
hosted Embedded Signup URL it leads to. A link that cannot be used is :class:`Refused` with the page that says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from gateway.keys import POOL, SETTINGS
from gateway.settings import GatewaySettings
from gateway.signup_html import Lang, language, page, text
from shared import signup_links
from shared.logging import get_logger
from shared.phones import InvalidPhoneNumber, parse_phone

log = get_logger(__name__)

COEXISTENCE = "whatsapp_business_app_onboarding"
SIGNUP_PATH = "/messaging/whatsapp/onboard/"
# The dashboard's policy (this origin only, no inline script), and no cache: a page holds a live link.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; object-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_LINK = """
SELECT l.id, l.onboarding_id, l.client_id, l.expires_at, l.revoked_at, l.used_at,
       o.phone_number, o.display_name, o.coexistence, o.method, o.state, o.step, o.last_error, o.suspended_reason,
       c.name AS business_name, c.language
  FROM directory_read.signup_links l
  JOIN directory_read.onboardings o ON o.id = l.onboarding_id AND o.client_id = l.client_id
  JOIN directory_read.clients c ON c.id = l.client_id
 WHERE l.id = $1"""


@dataclass(frozen=True)
class Opened:
    """A well-signed link the directory knows, with its onboarding and client."""

    token: str
    row: asyncpg.Record
    lang: Lang
    expired: bool

    @property
    def number(self) -> str:
        try:
            return parse_phone(self.row["phone_number"]).masked
        except InvalidPhoneNumber:
            return "•••"

    def words(self, key: str) -> str:
        return text(self.lang, key, number=self.number, business=self.row["business_name"], error=self.error)

    @property
    def status_url(self) -> str:
        return f"/onboard/{self.token}/status"

    @property
    def error(self) -> str:
        failure = self.row["last_error"]
        return str(failure.get("message", "")) if isinstance(failure, dict) else ""

    @property
    def waiting_for_signup(self) -> bool:
        state, step = self.row["state"], self.row["step"]
        reauthorize = state == "suspended" and self.row["suspended_reason"] == "reauthorization_needed"
        return bool(self.row["method"] == "signup") and (
            (state in ("pending", "signup_started") and step == "await_signup") or reauthorize
        )


class Refused(Exception):
    """A link that cannot do what was asked: ``response`` is the page saying why, ``message`` the same in words."""

    def __init__(self, response: web.Response, message: str):
        super().__init__(message)
        self.response, self.message = response, message


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)


def sorry(lang: Lang, key: str, status: int, **values: str) -> Refused:
    title, body = text(lang, f"{key}.title", **values), text(lang, f"{key}.body", **values)
    return Refused(html(page(lang, title, [body]), status), f"{title}. {body}")


async def open_link(request: web.Request, token: str) -> Opened:
    """The link ``token`` names; :class:`Refused` with the page to show when it was not signed by wamux or the
    directory does not know it (404)."""
    settings = request.app[SETTINGS]
    browser = language(None, request.headers.get("Accept-Language", ""))
    try:
        link, expired = signup_links.verify(settings.signup_link_secret, token), False
    except signup_links.ExpiredLink as exc:
        link, expired = signup_links.Link(exc.link_id, exc.expired_at), True
    except signup_links.BadLink:
        log.info("signup.link_refused", reason="bad_signature")
        raise sorry(browser, "invalid", 404) from None
    row = await request.app[POOL].fetchrow(_LINK, link.id)
    if row is None:
        log.info("signup.link_refused", reason="unknown", link_id=str(link.id))
        raise sorry(browser, "invalid", 404)
    expired = expired or row["expires_at"] <= datetime.now(UTC)
    return Opened(token, row, language(row["language"], request.headers.get("Accept-Language", "")), expired)


def check_live(opened: Opened) -> None:
    """:class:`Refused` unless the link can still start a signup: the page saying why (410), or that the number is
    connected already (200)."""
    row, lang = opened.row, opened.lang
    if row["state"] == "active":
        raise _closed(opened, "connected", 200)
    if row["used_at"] is not None:
        title, words = opened.words("used.title"), opened.words("used.body")
        body = page(lang, title, [words], action=(opened.status_url, text(lang, "used.button")))
        raise Refused(html(body, 410), f"{title}. {words}")
    if row["revoked_at"] is not None:
        raise sorry(lang, "revoked", 410)
    if opened.expired:
        raise sorry(lang, "expired", 410, expires_at=f"{row['expires_at']:%Y-%m-%d %H:%M} UTC")
    if row["state"] == "failed":
        raise _closed(opened, "failed", 410)
    if not opened.waiting_for_signup:
        raise _closed(opened, "closed", 410)


def _closed(opened: Opened, key: str, status: int) -> Refused:
    title, body = opened.words(f"{key}.title"), opened.words(f"{key}.body")
    return Refused(html(page(opened.lang, title, [body]), status), f"{title}. {body}")


def signup_extras(opened: Opened) -> dict[str, object]:
    """``FB.login``'s ``extras`` (the hosted link carries the same): the business and its number pre-filled,
    coexistence by ``featureType``."""
    row = opened.row
    phone = parse_phone(row["phone_number"])
    business: dict[str, object] = {
        "name": row["business_name"],
        "phone": {"code": phone.cc, "number": phone.national_number},
    }
    setup: dict[str, object] = {"business": business}
    if row["display_name"]:
        setup["phone"] = {"displayName": row["display_name"]}
    extras: dict[str, object] = {"setup": setup}
    if row["coexistence"]:
        extras["featureType"] = COEXISTENCE
    return extras


def hosted_signup_url(settings: GatewaySettings, opened: Opened) -> str:
    """Meta's hosted Embedded Signup, pre-filled with the business and its number; back to our callback."""
    query = {
        "app_id": settings.app_id,
        "config_id": settings.signup_config_id,
        "extras": json.dumps(signup_extras(opened), separators=(",", ":"), ensure_ascii=False),
        "redirect_uri": f"{settings.public_base_url.rstrip('/')}/onboard/callback",
        "state": opened.token,
    }
    return f"{settings.signup_base_url.rstrip('/')}{SIGNUP_PATH}?{urlencode(query)}"

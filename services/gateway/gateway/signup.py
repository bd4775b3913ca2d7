"""The signup link's pages: ``GET /onboard/{token}`` sends the client to Meta's hosted Embedded Signup,
``GET /onboard/callback`` takes Meta's answer back and publishes ``number.complete_signup``, and
``GET /onboard/{token}/status`` follows the onboarding until it is active or failed.

No API key here: the signed link (``shared.signup_links``) is the credential, and whether it is still live is the
directory's record (``directory_read.signup_links``). The token and Meta's code are never logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from gateway.keys import POOL, PUBLISHER, SETTINGS
from gateway.settings import GatewaySettings
from gateway.signup_html import STYLESHEET, Lang, language, page, text
from shared import signup_links
from shared.contracts.directory import NumberCompleteSignup
from shared.contracts.envelope import derived_id, wrap
from shared.logging import get_logger
from shared.messaging.broker import PublishFailed
from shared.phones import InvalidPhoneNumber, parse_phone

log = get_logger(__name__)
routes = web.RouteTableDef()

COEXISTENCE = "whatsapp_business_app_onboarding"
SIGNUP_PATH = "/messaging/whatsapp/onboard/"
_LINK_PATH = "/onboard/{token:[A-Za-z0-9_-]{16,256}}"
# The dashboard's policy (this origin only, no inline script), and no cache: a page holds a live link.
_HEADERS = {
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
    def __init__(self, response: web.Response):
        self.response = response


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS)


def _sorry(lang: Lang, key: str, status: int, **values: str) -> Refused:
    title, body = text(lang, f"{key}.title", **values), text(lang, f"{key}.body", **values)
    return Refused(_html(page(lang, title, [body]), status))


async def _open(request: web.Request, token: str) -> Opened:
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
        raise _sorry(browser, "invalid", 404) from None
    row = await request.app[POOL].fetchrow(_LINK, link.id)
    if row is None:
        log.info("signup.link_refused", reason="unknown", link_id=str(link.id))
        raise _sorry(browser, "invalid", 404)
    expired = expired or row["expires_at"] <= datetime.now(UTC)
    return Opened(token, row, language(row["language"], request.headers.get("Accept-Language", "")), expired)


def _live(opened: Opened) -> None:
    """:class:`Refused` unless the link can still start a signup: the page saying why (410), or that the number is
    connected already (200)."""
    row, lang = opened.row, opened.lang
    if row["state"] == "active":
        raise Refused(_html(page(lang, opened.words("connected.title"), [opened.words("connected.body")])))
    if row["used_at"] is not None:
        status_url = f"/onboard/{opened.token}/status"
        body = page(
            lang,
            opened.words("used.title"),
            [opened.words("used.body")],
            action=(status_url, text(lang, "used.button")),
        )
        raise Refused(_html(body, 410))
    if row["revoked_at"] is not None:
        raise _sorry(lang, "revoked", 410)
    if opened.expired:
        raise _sorry(lang, "expired", 410, expires_at=f"{row['expires_at']:%Y-%m-%d %H:%M} UTC")
    if row["state"] == "failed":
        raise Refused(_html(page(lang, opened.words("failed.title"), [opened.words("failed.body")]), 410))
    if not opened.waiting_for_signup:
        raise Refused(_html(page(lang, opened.words("closed.title"), [opened.words("closed.body")]), 410))


def hosted_signup_url(settings: GatewaySettings, opened: Opened) -> str:
    """Meta's hosted Embedded Signup, pre-filled with the business and its number; back to our callback."""
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
    query = {
        "app_id": settings.app_id,
        "config_id": settings.signup_config_id,
        "extras": json.dumps(extras, separators=(",", ":"), ensure_ascii=False),
        "redirect_uri": f"{settings.public_base_url.rstrip('/')}/onboard/callback",
        "state": opened.token,
    }
    return f"{settings.signup_base_url.rstrip('/')}{SIGNUP_PATH}?{urlencode(query)}"


@routes.get("/onboard/style.css")
async def stylesheet(_: web.Request) -> web.Response:
    headers = {**_HEADERS, "Cache-Control": "public, max-age=3600"}
    return web.Response(text=STYLESHEET, content_type="text/css", charset="utf-8", headers=headers)


@routes.get("/onboard/callback")
async def callback(request: web.Request) -> web.Response:
    query = request.query
    try:
        opened = await _open(request, query.get("state", ""))
    except Refused as refused:
        return refused.response
    lang = opened.lang
    if "error" in query or "error_description" in query:
        log.info("signup.meta_refused", link_id=str(opened.row["id"]), error=query.get("error", ""))
        described = query.get("error_description") or query.get("error") or ""
        body = page(
            lang,
            text(lang, "meta_error.title"),
            [text(lang, "meta_error.body", error=described)],
            action=(f"/onboard/{opened.token}", text(lang, "meta_error.button")),
        )
        return _html(body, 400)
    if opened.row["used_at"] is not None and opened.row["state"] != "active":
        raise web.HTTPSeeOther(f"/onboard/{opened.token}/status")  # a reload after the directory took it
    try:
        _live(opened)
        command = NumberCompleteSignup(
            onboarding_id=opened.row["onboarding_id"],
            code=query.get("code", ""),
            waba_id=query.get("waba_id", ""),
            phone_number_id=query.get("phone_number_id") or None,
            business_id=query.get("business_id") or None,
            link_id=opened.row["id"],
        )
    except Refused as refused:
        return refused.response
    except ValidationError as exc:
        log.info("signup.callback_incomplete", fields=sorted({str(e["loc"][0]) for e in exc.errors()}))
        return _sorry(lang, "incomplete", 400).response
    return await _complete(request, opened, command)


async def _complete(request: web.Request, opened: Opened, command: NumberCompleteSignup) -> web.Response:
    link_id, lang = opened.row["id"], opened.lang
    # The same code for the same link is the same command: a reload of this page publishes it again, deduplicated.
    envelope = wrap(
        command,
        correlation_id=str(opened.row["onboarding_id"]),
        tenant_id=opened.row["client_id"],
        id=derived_id(command.TYPE, str(link_id), command.code),
    )
    try:
        await request.app[PUBLISHER].publish(envelope)
    except PublishFailed as exc:
        log.error("signup.publish_failed", reason=exc.reason, link_id=str(link_id))
        return _sorry(lang, "unavailable", 503).response
    log.info("signup.completed", link_id=str(link_id), onboarding_id=str(command.onboarding_id))
    refresh = (2, f"/onboard/{opened.token}/status")
    return _html(page(lang, text(lang, "almost.title"), [text(lang, "almost.body")], refresh=refresh))


@routes.get(_LINK_PATH)
async def show(request: web.Request) -> web.Response:
    try:
        opened = await _open(request, request.match_info["token"])
        _live(opened)
    except Refused as refused:
        return refused.response
    lang, row = opened.lang, opened.row
    paragraphs = [opened.words("connect.body")]
    if row["coexistence"]:
        paragraphs.append(text(lang, "connect.coexistence"))
    paragraphs.append(text(lang, "connect.expires", expires_at=f"{row['expires_at']:%Y-%m-%d %H:%M} UTC"))
    button = (hosted_signup_url(request.app[SETTINGS], opened), text(lang, "connect.button"))
    return _html(page(lang, text(lang, "connect.title"), paragraphs, action=button))


@routes.get(_LINK_PATH + "/status")
async def status(request: web.Request) -> web.Response:
    try:
        opened = await _open(request, request.match_info["token"])
    except Refused as refused:
        return refused.response
    row, lang = opened.row, opened.lang
    if row["used_at"] is None:  # not (yet) the link a signup went through: it must be live to show anything
        try:
            _live(opened)
        except Refused as refused:
            return refused.response
    if row["state"] == "active":
        return _html(page(lang, opened.words("connected.title"), [opened.words("connected.body")]))
    if row["state"] in ("failed", "suspended"):
        key = row["state"]
        return _html(page(lang, opened.words(f"{key}.title"), [opened.words(f"{key}.body")]))
    words = [text(lang, f"status.{row['state']}"), text(lang, "status.refreshing")]
    refresh = (2, f"/onboard/{opened.token}/status")
    return _html(page(lang, opened.words("status.title"), words, refresh=refresh))

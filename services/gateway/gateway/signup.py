"""The signup link's pages: ``GET /onboard/{token}`` sends the client to Meta's hosted Embedded Signup,
``GET /onboard/callback`` takes Meta's answer back and publishes ``number.complete_signup``, and
``GET /onboard/{token}/status`` follows the onboarding until it is active or failed.

No API key here: the signed link (``shared.signup_links``) is the credential, and whether it is still live is the
directory's record (``gateway.signup_link``). The token and Meta's code are never logged.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from gateway.keys import PUBLISHER, SETTINGS
from gateway.signup_html import STYLESHEET, page, text
from gateway.signup_link import HEADERS, Opened, Refused, check_live, hosted_signup_url, html, open_link, sorry
from shared.contracts.directory import NumberCompleteSignup
from shared.contracts.envelope import derived_id, wrap
from shared.logging import get_logger
from shared.messaging.broker import PublishFailed

log = get_logger(__name__)
routes = web.RouteTableDef()
_LINK_PATH = "/onboard/{token:[A-Za-z0-9_-]{16,256}}"


@routes.get("/onboard/style.css")
async def stylesheet(_: web.Request) -> web.Response:
    headers = {**HEADERS, "Cache-Control": "public, max-age=3600"}
    return web.Response(text=STYLESHEET, content_type="text/css", charset="utf-8", headers=headers)


@routes.get("/onboard/callback")
async def callback(request: web.Request) -> web.Response:
    query = request.query
    try:
        opened = await open_link(request, query.get("state", ""))
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
        return html(body, 400)
    if opened.row["used_at"] is not None and opened.row["state"] != "active":
        raise web.HTTPSeeOther(f"/onboard/{opened.token}/status")  # a reload after the directory took it
    try:
        check_live(opened)
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
        return sorry(lang, "incomplete", 400).response
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
        return sorry(lang, "unavailable", 503).response
    log.info("signup.completed", link_id=str(link_id), onboarding_id=str(command.onboarding_id))
    refresh = (2, f"/onboard/{opened.token}/status")
    return html(page(lang, text(lang, "almost.title"), [text(lang, "almost.body")], refresh=refresh))


@routes.get(_LINK_PATH)
async def show(request: web.Request) -> web.Response:
    try:
        opened = await open_link(request, request.match_info["token"])
        check_live(opened)
    except Refused as refused:
        return refused.response
    lang, row = opened.lang, opened.row
    paragraphs = [opened.words("connect.body")]
    if row["coexistence"]:
        paragraphs.append(text(lang, "connect.coexistence"))
    paragraphs.append(text(lang, "connect.expires", expires_at=f"{row['expires_at']:%Y-%m-%d %H:%M} UTC"))
    button = (hosted_signup_url(request.app[SETTINGS], opened), text(lang, "connect.button"))
    return html(page(lang, text(lang, "connect.title"), paragraphs, action=button))


@routes.get(_LINK_PATH + "/status")
async def status(request: web.Request) -> web.Response:
    try:
        opened = await open_link(request, request.match_info["token"])
    except Refused as refused:
        return refused.response
    row, lang = opened.row, opened.lang
    if row["used_at"] is None:  # not (yet) the link a signup went through: it must be live to show anything
        try:
            check_live(opened)
        except Refused as refused:
            return refused.response
    if row["state"] == "active":
        return html(page(lang, opened.words("connected.title"), [opened.words("connected.body")]))
    if row["state"] in ("failed", "suspended"):
        key = row["state"]
        return html(page(lang, opened.words(f"{key}.title"), [opened.words(f"{key}.body")]))
    words = [text(lang, f"status.{row['state']}"), text(lang, "status.refreshing")]
    refresh = (2, f"/onboard/{opened.token}/status")
    return html(page(lang, opened.words("status.title"), words, refresh=refresh))

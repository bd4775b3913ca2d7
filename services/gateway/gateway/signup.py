"""The signup link's pages: ``GET /onboard/{token}`` opens Meta's Embedded Signup (the JS popup, or Meta's hosted
page by the link under it); Meta's answer comes back by ``POST /onboard/{token}/complete`` (the popup's JSON) or
``GET /onboard/callback`` (the hosted page's redirect), and either publishes the same ``number.complete_signup``;
``GET /onboard/{token}/status`` follows the onboarding until it is active or failed.

No API key here: the signed link (``shared.signup_links``) is the credential, and whether it is still live is the
directory's record (``gateway.signup_link``). The token and Meta's code are never logged.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from gateway.keys import SETTINGS
from gateway.signup_answer import explain, publish_signup
from gateway.signup_html import STYLESHEET, page, text
from gateway.signup_link import HEADERS, Refused, check_live, hosted_signup_url, html, open_link, sorry
from gateway.signup_popup import BadSdkUrl, policy, popup
from shared.logging import get_logger

log = get_logger(__name__)
routes = web.RouteTableDef()
_LINK_PATH = "/onboard/{token:[A-Za-z0-9_-]{16,256}}"
_SCRIPT = resources.files("gateway") / "static" / "signup.js"
_ASSET_HEADERS = {**HEADERS, "Cache-Control": "public, max-age=3600"}


@routes.get("/onboard/style.css")
async def stylesheet(_: web.Request) -> web.Response:
    return web.Response(text=STYLESHEET, content_type="text/css", charset="utf-8", headers=_ASSET_HEADERS)


@routes.get("/onboard/signup.js")
async def script(_: web.Request) -> web.Response:
    body = _SCRIPT.read_text(encoding="utf-8")
    return web.Response(text=body, content_type="text/javascript", charset="utf-8", headers=_ASSET_HEADERS)


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
        raise web.HTTPSeeOther(opened.status_url)  # a reload after the directory took it
    fields = ("code", "waba_id", "phone_number_id", "business_id")
    try:
        await publish_signup(request, opened, {name: query.get(name, "") for name in fields})
    except Refused as refused:
        return refused.response
    except ValidationError as exc:
        log.info("signup.callback_incomplete", fields=sorted({str(e["loc"][0]) for e in exc.errors()}))
        return sorry(lang, "incomplete", 400).response
    refresh = (2, opened.status_url)
    return html(page(lang, text(lang, "almost.title"), [text(lang, "almost.body")], refresh=refresh))


@routes.post(_LINK_PATH + "/complete")
async def complete(request: web.Request) -> web.Response:
    """The popup's answer as JSON: ``{status_url}``; 400 a body that is not the answer, 409 a link already used
    (the onboarding goes on: ``status_url`` says where), 404/410 a link that cannot start a signup."""
    try:
        opened = await open_link(request, request.match_info["token"])
    except Refused as refused:
        return _json_error(refused.message, refused.response.status)
    try:
        answer: Any = await request.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return _json_error(explain("the body is not a JSON object"), 400)
    row = opened.row
    if row["used_at"] is not None or row["state"] == "active":
        log.info("signup.complete_refused", reason="used", link_id=str(row["id"]))
        used = text(opened.lang, "used.title")
        return _json_error(used, 409, status_url=opened.status_url)
    try:
        await publish_signup(request, opened, answer)
    except Refused as refused:
        return _json_error(refused.message, refused.response.status)
    except ValidationError as exc:
        log.info("signup.complete_incomplete", fields=sorted({str(e["loc"][0]) for e in exc.errors()}))
        return _json_error(explain(exc), 400)
    return web.json_response({"status_url": opened.status_url}, headers={"Cache-Control": "no-store"})


def _json_error(message: str, status: int, **more: str) -> web.Response:
    return web.json_response({"error": message, **more}, status=status, headers={"Cache-Control": "no-store"})


@routes.get(_LINK_PATH)
async def show(request: web.Request) -> web.Response:
    try:
        opened = await open_link(request, request.match_info["token"])
        check_live(opened)
    except Refused as refused:
        return refused.response
    lang, row, settings = opened.lang, opened.row, request.app[SETTINGS]
    paragraphs = [opened.words("connect.body")]
    if row["coexistence"]:
        paragraphs.append(text(lang, "connect.coexistence"))
    paragraphs.append(text(lang, "connect.expires", expires_at=f"{row['expires_at']:%Y-%m-%d %H:%M} UTC"))
    try:
        headers = {**HEADERS, "Content-Security-Policy": policy(settings)}
        launcher = popup(settings, opened)
    except BadSdkUrl as exc:  # the hosted page still works: say what to fix, and offer only that
        log.error("signup.sdk_url_invalid", reason=str(exc))
        button = (hosted_signup_url(settings, opened), text(lang, "connect.button"))
        return html(page(lang, text(lang, "connect.title"), paragraphs, action=button))
    hosted = (hosted_signup_url(settings, opened), text(lang, "connect.hosted"))
    body = page(lang, text(lang, "connect.title"), paragraphs, action=hosted, popup=launcher)
    return web.Response(text=body, content_type="text/html", charset="utf-8", headers=headers)


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

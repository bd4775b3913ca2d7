"""A stand-in for Meta's hosted Embedded Signup: ``/messaging/whatsapp/onboard/?app_id&config_id&extras``.

The path and parameters are those of Meta's Hosted ES link (business.facebook.com); ``extras`` is the
url-encoded JSON of ``FB.login``: ``featureType: whatsapp_business_app_onboarding`` selects coexistence,
``setup.business.{name, phone{code, number}}``, ``setup.phone.displayName`` and
``setup.whatsAppBusinessAccount.ids`` pre-fill the business, its number and its WABA.

Emulated: Meta's screens are one page with one Accept button (a form POST, no script). Accepting creates
(or finds) the WABA and a verified number (a new +1 555 test number when none is pre-filled, as Meta's
"display name only" option does), puts it in the number registry so it is messaged like the demo number,
issues a single-use code, and sends the ``account_update`` ``PARTNER_ADDED`` webhook Hosted ES is
documented to send. The number still needs subscribe and register (coexistence: subscribe only).

Not Meta's: Hosted ES documents no browser hand-back. Given ``redirect_uri`` (and ``state``), the page
redirects there as Facebook Login's OAuth dialog does (``code``, ``state``), adding what the JS flow's
session-info event carries: ``waba_id``, ``business_id`` and ``phone_number_id`` — omitted for
coexistence, whose finish event names only the WABA (read the number with ``GET /{waba_id}/phone_numbers``).
Without ``redirect_uri`` the page shows the code and ids. Login, asset selection and SMS checks are skipped.

Opened by the stand-in JS SDK (``sandbox.meta.js_sdk``, ``response_mode=post_message`` with ``opener_origin``),
Accept answers as the popup does instead: the session info and the code posted to the opener, then the window
closes; a Cancel button posts CANCEL at ``PHONE_NUMBER_SETUP``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web
from yarl import URL

from sandbox.meta.accounts import PhoneNumber, Waba
from sandbox.meta.emulator_state import EMULATOR, Emulator
from sandbox.meta.ids import placeholder_waba_id
from sandbox.meta.objects import adopt_registry, publish
from sandbox.meta.signup_html import consent_page, error_page, finished_page, post_message_page
from sandbox.meta.signup_request import Signup, SignupRefused, parse_signup

SIGNUP_PATH = "/messaging/whatsapp/onboard/"
POST_MESSAGE = "post_message"
CANCELLED_STEP = "PHONE_NUMBER_SETUP"


def _test_number(emulator: Emulator) -> tuple[str, str]:
    while True:
        national = "555" + f"{secrets.randbelow(10**7):07d}"
        if emulator.accounts.number_by_digits("1" + national) is None:
            return "1", national


def complete_signup(emulator: Emulator, signup: Signup) -> tuple[Waba, PhoneNumber, str]:
    adopt_registry(emulator)
    accounts = emulator.accounts
    cc, national = signup.phone or _test_number(emulator)
    number = accounts.number_by_digits(cc + national)
    if number is None:
        known = [accounts.wabas[i] for i in signup.waba_ids if i in accounts.wabas]
        waba = known[0] if known else accounts.create_waba(signup.business_name)
        number = accounts.add_number(waba, cc, national, signup.display_name)
        number.code_verification_status = "VERIFIED"  # the customer verified it inside the flow
        number.is_on_biz_app = signup.coexistence
        if signup.coexistence:  # live at once on the Cloud API, beside the app; no register
            number.last_onboarded_time = datetime.now(UTC)
    waba = accounts.wabas[number.waba_id]
    publish(emulator, number)
    _announce(emulator, waba)
    return waba, number, emulator.signup_codes.issue(waba.id)


def _announce(emulator: Emulator, waba: Waba) -> None:
    """``account_update`` PARTNER_ADDED: its entry id is the partner's business, not the WABA."""
    if emulator.poster is None:
        return
    value = {"event": "PARTNER_ADDED", "waba_info": {"waba_id": waba.id, "owner_business_id": waba.owner_business_id}}
    partner = placeholder_waba_id("partner:" + emulator.settings.app_id)
    change = {"field": "account_update", "value": value}
    entry = {"id": partner, "time": int(datetime.now(UTC).timestamp()), "changes": [change]}
    emulator.spawn(emulator.poster.deliver({"object": "whatsapp_business_account", "entry": [entry]}))


def add_signup_routes(app: web.Application) -> None:
    app.router.add_get(SIGNUP_PATH, show_signup)
    app.router.add_post(SIGNUP_PATH, accept_signup)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


async def show_signup(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    try:
        signup = parse_signup(request.query, emulator)
    except SignupRefused as exc:
        return _html(error_page(str(exc)), status=400)
    number = f"+{signup.phone[0]} {signup.phone[1]}" if signup.phone else "A new test number (+1 555 …)"
    kind = "WhatsApp Business app (coexistence)" if signup.coexistence else "WhatsApp Cloud API"
    rows = [("Business", signup.business_name), ("Phone number", number), ("Display name", signup.display_name)]
    rows.append(("Connection", kind))
    try:
        popup = _popup(request.query)
    except SignupRefused as exc:
        return _html(error_page(str(exc)), status=400)
    hidden = {**signup.carried, **popup}
    return _html(consent_page(emulator.settings.app_name, rows, hidden, cancellable=bool(popup)))


def _popup(params: Mapping[str, str]) -> dict[str, str]:
    """The JS SDK's popup mode and the origin that opened it, or nothing (the hosted page's redirect)."""
    mode = params.get("response_mode")
    if not mode:
        return {}
    origin = params.get("opener_origin", "")
    if mode != POST_MESSAGE:
        raise SignupRefused(f"response_mode must be {POST_MESSAGE} (the JS SDK's popup), not {mode!r}.")
    try:
        url = URL(origin)
    except ValueError:
        url = URL()
    if url.scheme not in ("http", "https") or not url.host or str(url.origin()) != origin:
        raise SignupRefused("opener_origin must be the http(s) origin of the page that opened the popup.")
    return {"response_mode": mode, "opener_origin": origin}


def _session_info(event: str, data: dict[str, str]) -> str:
    return json.dumps({"type": "WA_EMBEDDED_SIGNUP", "event": event, "data": data, "version": "3"})


async def accept_signup(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        signup, popup = parse_signup(form, emulator), _popup(form)
    except SignupRefused as exc:
        return _html(error_page(str(exc)), status=400)
    if popup and "cancel" in form:
        cancel = _session_info("CANCEL", {"current_step": CANCELLED_STEP})
        return _html(post_message_page([("event", "CANCEL")], cancel, None, popup["opener_origin"]))
    waba, number, code = complete_signup(emulator, signup)
    result = {"code": code, "waba_id": waba.id, "business_id": waba.owner_business_id}
    if not signup.coexistence:
        result["phone_number_id"] = number.id
    if "state" in signup.carried:
        result["state"] = signup.carried["state"]
    if popup:
        ids = {k: v for k, v in result.items() if k in ("waba_id", "phone_number_id", "business_id")}
        # Coexistence's finish event names only the WABA, as Meta's does.
        event = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING" if signup.coexistence else "FINISH"
        session = _session_info(event, {"waba_id": waba.id} if signup.coexistence else ids)
        rows = [("event", event), *ids.items()]
        return _html(post_message_page(rows, session, code, popup["opener_origin"]))
    redirect = signup.carried.get("redirect_uri")
    if redirect is not None:
        raise web.HTTPSeeOther(str(URL(redirect).update_query(result)))
    rows = [(name, value) for name, value in result.items()]
    return _html(finished_page([*rows, ("display_phone_number", number.display_phone_number)]))

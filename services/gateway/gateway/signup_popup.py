"""Embedded Signup in Meta's JS popup: the production way back to the signup page, since Hosted ES hands the
browser nothing (only an ``account_update`` webhook, tied to no link). The live link's page loads Meta's SDK from
``signup_sdk_url``; ``/onboard/signup.js`` calls ``FB.login`` with the button's parameters and posts the code and
the session info (``gateway.signup_answer``) to ``/onboard/{token}/complete``."""

from __future__ import annotations

import json

from yarl import URL

from gateway.settings import GatewaySettings
from gateway.signup_html import Popup, popup_words, text
from gateway.signup_link import Opened, signup_extras

# Meta's popup and the SDK's frames are served from facebook.com hosts (www., web., staticxx.); Meta's own sample
# accepts any host ending in facebook.com for the session-info message.
FACEBOOK = "https://*.facebook.com"


class BadSdkUrl(ValueError):
    pass


def sdk_origin(settings: GatewaySettings) -> str:
    try:
        url = URL(settings.signup_sdk_url)
    except ValueError:
        url = URL()
    if url.scheme not in ("http", "https") or not url.host:
        raise BadSdkUrl(
            f"WAMUX_SIGNUP_SDK_URL must be an http(s) URL of Meta's JS SDK, not {settings.signup_sdk_url!r}"
        )
    return str(url.origin())


def meta_origins(settings: GatewaySettings) -> str:
    """Where the popup's frames and its session-info message come from: Meta's pages when the SDK is Meta's,
    else the SDK's own origin (the emulator's stand-in)."""
    origin = sdk_origin(settings)
    host = URL(origin).host or ""
    return FACEBOOK if host == "facebook.net" or host.endswith(".facebook.net") else origin


def policy(settings: GatewaySettings) -> str:
    """The live link's CSP: the dashboard's, plus Meta's SDK as a script and its frames; fetches stay here."""
    return (
        f"default-src 'self'; script-src 'self' {sdk_origin(settings)}; frame-src {meta_origins(settings)}; "
        "connect-src 'self'; img-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
    )


def popup(settings: GatewaySettings, opened: Opened) -> Popup:
    parameters = {
        "app_id": settings.app_id,
        "config_id": settings.signup_config_id,
        "version": settings.graph_api_version,
        "sdk_url": settings.signup_sdk_url,
        "message_origins": meta_origins(settings),
        "extras": json.dumps(signup_extras(opened), separators=(",", ":"), ensure_ascii=False),
        "token": opened.token,
    }
    return Popup(text(opened.lang, "connect.button"), parameters, popup_words(opened.lang))

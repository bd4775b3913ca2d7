"""What a hosted signup link asks for: its app, configuration and ``extras`` (pre-fill and coexistence).

The same parameters arrive twice: in the link's query string, and carried through the consent page's
form as hidden fields; both are checked the same way, since neither is trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from sandbox.meta.accounts import split_number
from sandbox.meta.emulator_state import Emulator

COEXISTENCE = "whatsapp_business_app_onboarding"
_CARRIED = ("app_id", "config_id", "extras", "redirect_uri", "state")


class SignupRefused(Exception):
    """A link Meta's page would not run: wrong app or configuration, unreadable extras, bad redirect."""


@dataclass(frozen=True)
class Signup:
    carried: dict[str, str]
    coexistence: bool
    business_name: str
    display_name: str
    phone: tuple[str, str] | None
    waba_ids: tuple[str, ...]


def _setup(extras: dict[str, Any], *path: str) -> Any:
    node: Any = extras.get("setup")
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _is_web_url(raw: str) -> bool:
    try:
        url = URL(raw)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def parse_signup(params: Mapping[str, str], emulator: Emulator) -> Signup:
    settings = emulator.settings
    carried = {k: params[k] for k in _CARRIED if params.get(k)}
    if carried.get("app_id") != settings.app_id:
        raise SignupRefused("This link names an app that does not exist (app_id).")
    if carried.get("config_id") != settings.signup_config_id:
        raise SignupRefused("This link's configuration is not one of this app's (config_id).")
    try:
        extras = json.loads(carried.get("extras", "{}"))
    except ValueError as exc:
        raise SignupRefused("The link's extras are not valid JSON.") from exc
    if not isinstance(extras, dict):
        raise SignupRefused("The link's extras must be a JSON object.")
    redirect = carried.get("redirect_uri")
    if redirect is not None and not _is_web_url(redirect):
        raise SignupRefused("redirect_uri must be an http or https URL.")
    business = str(_setup(extras, "business", "name") or "Sandbox Business")
    code, number = _setup(extras, "business", "phone", "code"), _setup(extras, "business", "phone", "number")
    phone = split_number(str(code), str(number)) if code and number else None
    if code and number and phone is None:
        raise SignupRefused(f"+{code} {number} is not a phone number.")
    waba_ids = _setup(extras, "whatsAppBusinessAccount", "ids") or []
    return Signup(
        carried=carried,
        coexistence=COEXISTENCE in (extras.get("featureType"), extras.get("feature_type")),
        business_name=business,
        display_name=str(_setup(extras, "phone", "displayName") or business),
        phone=phone,
        waba_ids=tuple(str(i) for i in waba_ids if isinstance(i, str | int)),
    )

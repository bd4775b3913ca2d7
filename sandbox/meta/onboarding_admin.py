"""Sandbox controls of onboarding, under ``/_sandbox/`` (no authentication, like the other controls).

- ``GET /_sandbox/phone_numbers/{id}``: the number as the emulator holds it, with the code last "sent"
  by ``request_code`` (what the customer would read in the SMS) and the ``smb_app_data`` syncs requested.
- ``PATCH /_sandbox/phone_numbers/{id}`` {is_on_biz_app?, two_step_pin?, register_blocked?, quality_rating?,
  name_status?}: make it a coexistence number, give it a two-step PIN set elsewhere, block its registration
  as after too many attempts (133016), or change what Meta reports of it.
- ``GET /_sandbox/wabas/{id}``: a WABA, its subscription and callback override.
- ``POST /_sandbox/tokens/revoke`` {access_token}: revoke a business token (the client removed the app, changed
  its password): every Graph call with it answers 190 from then on. 404 for a token the emulator never issued.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox.admin_io import read_model
from sandbox.meta.accounts import PhoneNumber, graph_time
from sandbox.meta.emulator_state import EMULATOR, Emulator
from sandbox.meta.objects import adopt_registry


class NumberControl(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_on_biz_app: bool | None = None
    two_step_pin: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    register_blocked: bool | None = None
    quality_rating: Literal["GREEN", "YELLOW", "RED", "UNKNOWN"] | None = None
    name_status: (
        Literal["APPROVED", "AVAILABLE_WITHOUT_REVIEW", "DECLINED", "EXPIRED", "PENDING_REVIEW", "NONE"] | None
    ) = None


class TokenRevocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(min_length=1)


def add_onboarding_admin_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/phone_numbers/{phone_number_id}", show_number)
    app.router.add_patch("/_sandbox/phone_numbers/{phone_number_id}", control_number)
    app.router.add_get("/_sandbox/wabas/{waba_id}", show_waba)
    app.router.add_post("/_sandbox/tokens/revoke", revoke_token)


def number_json(number: PhoneNumber) -> dict[str, Any]:
    return {
        "id": number.id,
        "waba_id": number.waba_id,
        "cc": number.cc,
        "phone_number": number.national_number,
        "display_phone_number": number.display_phone_number,
        "verified_name": number.verified_name,
        "code_verification_status": number.code_verification_status,
        "last_code": number.last_code,
        "code_pending": number.code_pending,
        "registered": number.registered,
        "is_on_biz_app": number.is_on_biz_app,
        "platform_type": number.platform_type,
        "two_step_pin_set": number.pin is not None,
        "register_requests": len(number.register_requests),
        "register_blocked": number.register_blocked_until > time.monotonic(),
        "last_onboarded_time": graph_time(number.last_onboarded_time) if number.last_onboarded_time else None,
        "syncs": list(number.syncs),
    }


def _number(emulator: Emulator, phone_number_id: str) -> PhoneNumber:
    adopt_registry(emulator)
    number = emulator.accounts.numbers.get(phone_number_id)
    if number is None:
        raise web.HTTPNotFound(text=f"no phone number {phone_number_id} in the emulator")
    return number


async def show_number(request: web.Request) -> web.Response:
    number = _number(request.app[EMULATOR], request.match_info["phone_number_id"])
    return web.json_response(number_json(number))


async def control_number(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    number = _number(emulator, request.match_info["phone_number_id"])
    control = await read_model(request, NumberControl)
    if control.is_on_biz_app is not None:
        number.is_on_biz_app = control.is_on_biz_app
    if control.two_step_pin is not None:
        number.pin = control.two_step_pin
    if control.register_blocked is not None:
        window = emulator.settings.sandbox_register_window_s
        number.register_blocked_until = time.monotonic() + window if control.register_blocked else 0.0
        if not control.register_blocked:
            number.register_requests.clear()
    if control.quality_rating is not None:
        number.quality_rating = control.quality_rating
    if control.name_status is not None:
        number.name_status = control.name_status
    return web.json_response(number_json(number))


async def show_waba(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    adopt_registry(emulator)
    waba = emulator.accounts.waba(request.match_info["waba_id"])
    if waba is None:
        raise web.HTTPNotFound(text="no such WABA in the emulator")
    return web.json_response(
        {
            "id": waba.id,
            "name": waba.name,
            "owner_business_id": waba.owner_business_id,
            "subscribed": waba.subscribed,
            "override_callback_uri": waba.override_callback_uri,
            "phone_number_ids": waba.phone_number_ids,
        }
    )


async def revoke_token(request: web.Request) -> web.Response:
    revocation = await read_model(request, TokenRevocation)
    if not request.app[EMULATOR].accounts.revoke_token(revocation.access_token):
        raise web.HTTPNotFound(text="the emulator issued no such business token (or it was revoked already)")
    return web.json_response({"revoked": True})

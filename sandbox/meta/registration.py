"""Verifying and registering a number: ``request_code``, ``verify_code``, ``register``, failing as Meta does.

- ``request_code`` (code_method SMS|VOICE, language) → success; the 6-digit code "sent" is readable at
  ``GET /_sandbox/phone_numbers/{id}``. ``verify_code`` (code, no hyphen) → success, or 136025.
- ``register`` (messaging_product=whatsapp, 6-digit pin): every request counts toward Meta's limit
  (10 per number in 72 h, then 133016 and a 72-hour block); a coexistence number is refused (code 100,
  the wording integrators report); a number never verified needs verification (133006); a PIN other
  than the number's two-step PIN is 133005 — also when re-registering a live number, as Meta does; the
  first register sets the PIN. Registering makes the number a Cloud API number that may send.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime

from aiohttp import web

from sandbox.config import SandboxSettings
from sandbox.meta.accounts import PhoneNumber
from sandbox.meta.emulator_state import EMULATOR
from sandbox.meta.errors import MetaError, invalid_param, user_facing
from sandbox.meta.media import VERSION
from sandbox.meta.objects import resolve_number
from sandbox.meta.params import graph_params, required

_PIN = re.compile(r"^[0-9]{6}$")
_CODE_METHODS = ("SMS", "VOICE")


def add_registration_routes(app: web.Application) -> None:
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/request_code", request_code)
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/verify_code", verify_code)
    app.router.add_post(f"/{VERSION}/{{phone_number_id}}/register", register)


async def request_code(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    number = resolve_number(request, emulator, request.match_info["phone_number_id"])
    params = await graph_params(request)
    method = required(params, "code_method")
    required(params, "language")
    if method.upper() not in _CODE_METHODS:
        raise invalid_param(f'Param code_method must be one of {{SMS, VOICE}} - got "{method}".')
    emulator.faults.refuse_call("request_code", number.id)
    number.last_code = f"{secrets.randbelow(10**6):06d}"  # the SMS reads "WhatsApp code 123-830"
    number.code_pending = True
    return web.json_response({"success": True})


async def verify_code(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    number = resolve_number(request, emulator, request.match_info["phone_number_id"])
    code = required(await graph_params(request), "code")
    emulator.faults.refuse_call("verify_code", number.id)
    if not number.code_pending or not secrets.compare_digest(code, number.last_code or ""):
        raise user_facing(
            136025, 2388093, "Verify code error", "Could not verify code", "The code entered is incorrect."
        )
    number.code_pending = False
    number.code_verification_status = "VERIFIED"
    return web.json_response({"success": True})


def take_register_attempt(number: PhoneNumber, settings: SandboxSettings, now: float) -> None:
    window = settings.sandbox_register_window_s
    while number.register_requests and number.register_requests[0] <= now - window:
        number.register_requests.popleft()
    if number.register_blocked_until > now:
        raise MetaError(133016)
    if len(number.register_requests) >= settings.sandbox_register_limit:
        number.register_blocked_until = now + window
        raise MetaError(133016)
    number.register_requests.append(now)


async def register(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR]
    number = resolve_number(request, emulator, request.match_info["phone_number_id"])
    params = await graph_params(request)
    product = required(params, "messaging_product")
    if product != "whatsapp":
        raise invalid_param(f'Param messaging_product must be one of {{WHATSAPP}} - got "{product}".')
    pin = required(params, "pin")
    if not _PIN.match(pin):
        raise invalid_param("Param pin must be 6 characters long.")
    emulator.faults.refuse_call("register", number.id)
    take_register_attempt(number, emulator.settings, time.monotonic())
    if number.is_on_biz_app:
        raise MetaError(100, message="Register endpoint is not available for SMB businesses")
    if number.code_verification_status != "VERIFIED":
        raise MetaError(133006)
    if number.pin is not None and not secrets.compare_digest(pin, number.pin):
        raise MetaError(133005)
    number.pin = pin
    number.registered = True
    number.last_onboarded_time = datetime.now(UTC)
    return web.json_response({"success": True})

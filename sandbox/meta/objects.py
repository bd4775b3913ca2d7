"""The WABA or phone number a Graph call names, found after the caller's token was checked.

Numbers put in the registry by ``POST /_sandbox/numbers`` (the demo number) join the accounts on first
sight as registered Cloud API numbers, so the onboarding endpoints see them as Meta would see a live number.
"""

from __future__ import annotations

from aiohttp import web

from sandbox.meta.accounts import PhoneNumber, Waba, split_number
from sandbox.meta.auth import check_token
from sandbox.meta.emulator_state import Emulator
from sandbox.meta.errors import unsupported_request
from sandbox.meta.state import BusinessNumber


def adopt_registry(emulator: Emulator) -> None:
    accounts = emulator.accounts
    for known in emulator.numbers.all():
        if known.phone_number_id in accounts.numbers:
            continue
        cc, national = split_number("", known.display_phone_number) or ("", known.display_phone_number)
        waba = accounts.adopt_waba(known.waba_id)
        number = PhoneNumber(known.phone_number_id, waba.id, cc, national, "Sandbox Business")
        number.code_verification_status, number.registered = "VERIFIED", True
        accounts.numbers[number.id] = number
        waba.phone_number_ids.append(number.id)


def publish(emulator: Emulator, number: PhoneNumber) -> None:
    """Put a number in the registry that addresses webhooks, so it is messaged like the demo number."""
    emulator.numbers.register(BusinessNumber(number.id, number.digits, number.waba_id))


def resolve_waba(request: web.Request, emulator: Emulator, waba_id: str) -> Waba:
    adopt_registry(emulator)
    accounts = emulator.accounts
    token = check_token(request, emulator.settings, accounts, waba_id)
    waba = accounts.waba(waba_id)
    if waba is None:
        # The system user's own WABA, made in Business Manager before the emulator heard of it.
        if accounts.is_business_token(token) or not waba_id.isdigit():
            raise unsupported_request(request.method.lower(), waba_id)
        waba = accounts.adopt_waba(waba_id)
    return waba


def resolve_number(request: web.Request, emulator: Emulator, phone_number_id: str) -> PhoneNumber:
    adopt_registry(emulator)
    check_token(request, emulator.settings, emulator.accounts, phone_number_id)
    number = emulator.accounts.numbers.get(phone_number_id)
    if number is None:
        raise unsupported_request(request.method.lower(), phone_number_id)
    return number

"""One example of each directory command and event, and of the message a CRM sends and its outcome, as a CRM
developer would send or receive it: published in its JSON Schema (``examples``, ``python -m shared.contracts.schemas``)
and checked against its model by a test."""

from __future__ import annotations

from typing import Any

_CLIENT = "3f1c9b2e-6a4d-4b8e-9c3a-1d2e3f4a5b6c"
_OTHER_CLIENT = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
_ONBOARDING = "0b6f5c1e-2d3a-4f4b-9e5c-6d7e8f9a0b1c"
_LINK = "5b0c1f3e-8a4d-4c1e-9a57-2f1d6c3b9e10"
_PNID = "106540352242922"
_WABA = "102290129340398"
_CUSTOMER = "573001112233"
_SEND = "e4b7a9c2-5d1f-4e3a-8b6c-9f0a1b2c3d4e"  # the envelope id of the message.send it reports
_TEXT = "Hola Sofía, le escribe Laura: la visita al apartamento de Chapinero queda el jueves a las 10:00."
_SENT_BY = {"kind": "person", "name": "Laura Gómez"}

EXAMPLES: dict[str, dict[str, Any]] = {
    "client.create": {
        "client_id": _CLIENT,
        "name": "Inmobiliaria Andes",
        "personality": "Agencia inmobiliaria en Bogotá, profesional pero cercana; ofrece visitas de lunes a viernes.",
        "language": "es-CO",
        "timezone": "America/Bogota",
        "quota_policy": "count_paid",
        "free_quota": 1000,
        "api_key_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    },
    "client.update": {"client_id": _CLIENT, "personality": "Ahora también arriendos en Medellín.", "free_quota": 1500},
    "number.register": {
        "onboarding_id": _ONBOARDING,
        "client_id": _CLIENT,
        "phone_number": "+57 300 123 4567",
        "display_name": "Inmobiliaria Andes",
        "method": "signup",
        "coexistence": False,
        "link_id": _LINK,
        "link_expires_at": "2026-12-09T12:00:00Z",
    },
    "number.request_code": {"onboarding_id": _ONBOARDING, "code_method": "SMS", "language": "es"},
    "number.verify_code": {"onboarding_id": _ONBOARDING, "code": "123830"},
    "number.complete_signup": {
        "onboarding_id": _ONBOARDING,
        "code": "AQBx…the code Embedded Signup returned",
        "waba_id": _WABA,
        "phone_number_id": _PNID,
        "business_id": "101112131415161",
        "link_id": _LINK,
    },
    "number.renew_link": {"onboarding_id": _ONBOARDING, "link_id": _LINK, "expires_at": "2026-12-16T12:00:00Z"},
    "onboarding.step": {"onboarding_id": _ONBOARDING, "step": "subscribe_app", "version": 3},
    "number.suspend": {"client_id": _CLIENT, "phone_number_id": _PNID, "reason": "unpaid_invoice"},
    "number.resume": {"client_id": _CLIENT, "phone_number_id": _PNID},
    "number.move": {"phone_number_id": _PNID, "to_client_id": _OTHER_CLIENT, "free_quota": 1000},
    "client.created": {
        "client_id": _CLIENT,
        "name": "Inmobiliaria Andes",
        "language": "es-CO",
        "timezone": "America/Bogota",
        "quota_policy": "count_paid",
        "free_quota": 1000,
    },
    "client.updated": {
        "client_id": _CLIENT,
        "changed": ["free_quota", "personality"],
        "name": "Inmobiliaria Andes",
        "language": "es-CO",
        "timezone": "America/Bogota",
        "quota_policy": "count_paid",
        "free_quota": 1500,
    },
    "number.onboarding_changed": {
        "onboarding_id": _ONBOARDING,
        "client_id": _CLIENT,
        "phone_number": "+573001234567",
        "state": "failed",
        "step": "register",
        "phone_number_id": _PNID,
        "waba_id": _WABA,
        "error": {
            "source": "meta",
            "code": 133005,
            "subcode": None,
            "message": "Two step verification PIN Mismatch",
            "retryable": False,
        },
        "signup_url": None,
        "signup_link_expires_at": None,
    },
    "number.activated": {
        "client_id": _CLIENT,
        "phone_number_id": _PNID,
        "phone_number": "+573001234567",
        "waba_id": _WABA,
        "display_name": "Inmobiliaria Andes",
    },
    "number.suspended": {"client_id": _CLIENT, "phone_number_id": _PNID, "reason": "reauthorization_needed"},
    "number.token_rejected": {
        "client_id": _CLIENT,
        "phone_number_id": _PNID,
        "code": 190,
        "subcode": 460,
        "message": "Error validating access token: the session has been invalidated",
    },
    "command.rejected": {
        "command_id": "2c9d7e4f-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
        "command_type": "number.register",
        "reason": "conflict",
        "message": "57…67 belongs to another client: it is never reassigned",
        "errors": [],
    },
    "message.send": {
        "client_id": _CLIENT,
        "phone_number_id": _PNID,
        "to": _CUSTOMER,
        "text": _TEXT,
        "customer_last_message_at": "2026-12-02T09:12:40Z",
        "sent_by": _SENT_BY,
    },
    "message.sent": {
        "client_id": _CLIENT,
        "send_id": _SEND,
        "phone_number_id": _PNID,
        "to": _CUSTOMER,
        "wamid": "wamid.HBgMNTczMDAxMTEyMjMzFQIAERgSQzY0QkU5RkI3RjM4QTA0NTcA",
        "text": _TEXT,
        "sent_at": "2026-12-02T09:30:01Z",
        "sent_by": _SENT_BY,
    },
    "number.moved": {
        "phone_number_id": _PNID,
        "phone_number": "+573001234567",
        "from_client_id": _CLIENT,
        "to_client_id": _OTHER_CLIENT,
        "moved_at": "2026-12-01T15:04:05Z",
    },
}

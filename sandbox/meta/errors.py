"""Meta's Graph API error bodies for the WhatsApp Cloud API, as the emulator returns them.

Titles and details follow Meta's error-codes reference (developers.facebook.com, WhatsApp Cloud API >
Support > Error codes). The ``message`` is "(#code) title", which is how Meta combines them; clients
are told to branch on ``code`` and ``error_data.details``, never on the wording.
(Over 150 lines because most of it is Meta's catalog of codes, one table that reads best in one place.)
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

# code -> (title, details)
_CATALOG: dict[int, tuple[str, str]] = {
    0: ("AuthException", "We were unable to authenticate the app user."),
    1: ("API Unknown", "Invalid request or possible server error."),
    2: ("API Service", "Temporary due to downtime or due to being overloaded."),
    3: ("API Method", "Capability or permissions issue."),
    4: ("Application request limit reached", "The app has reached its API call rate limit."),
    10: ("Permission Denied", "Permission is either not granted or has been removed."),
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters."),
    190: ("Access token has expired", "Your access token has expired."),
    368: ("Temporarily blocked for policies violations", "The WhatsApp Business Account is restricted."),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    130472: ("User's number is part of an experiment", "Message was not sent as part of an experiment."),
    131000: ("Something went wrong", "Message failed to send due to an unknown error."),
    131005: ("Access denied", "Permission is either not granted or has been removed."),
    131008: ("Required parameter is missing", "The request is missing a required parameter."),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131021: ("Recipient cannot be sender", "Sender and recipient phone number is the same."),
    131026: ("Message undeliverable", "Unable to deliver message."),
    131031: ("Account has been locked", "The WhatsApp Business Account has been restricted or disabled."),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from "
        "this phone number.",
    ),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: (
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages "
        "on WhatsApp from your business.",
        "The recipient has stopped marketing messages from this business.",
    ),
    131051: ("Unsupported message type", "Unsupported message type."),
    131053: ("Media upload error", "Unable to upload the media used in the message."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the "
        "same phone number in a short period of time.",
    ),
    131057: (
        "Account in maintenance mode",
        "Business Account is in maintenance mode. One reason for this could be that the account is "
        "undergoing a throughput upgrade.",
    ),
    132000: ("Number of parameters does not match the expected number of params", "Template params mismatch."),
    132001: ("Template name does not exist in the translation", "The template does not exist."),
    132015: ("Template is Paused", "The template is paused due to low quality."),
    132016: ("Template is Disabled", "The template has been disabled due to low quality."),
    133010: ("Account not registered", "The phone number is not registered on the WhatsApp Business Platform."),
    # Registration (Meta's error-code table; onboarding-facts.md §1.5).
    133000: ("Incomplete deregistration", "A previous deregistration attempt failed. Deregister the number again."),
    133004: ("Server temporarily unavailable", "The server is temporarily unavailable. Try again later."),
    133005: ("Two step verification PIN Mismatch", "The two-step verification PIN is incorrect."),
    133006: ("Phone number re-verification needed", "The phone number must be verified before registering."),
    133008: ("Too many two step verification PIN guesses", "Too many PIN guesses for this phone number."),
    133009: ("Two step verification PIN guessed too fast", "The PIN was entered too quickly."),
    133015: ("Phone number recently deleted", "The number's deletion is not complete yet: wait 5 minutes."),
    133016: (
        "Account register deregister rate limit exceeded",
        "Too many registration attempts for this phone number (10 in 72 hours): it is blocked for 72 hours.",
    ),
    136024: ("Request code error", "The verification code could not be sent."),
    136025: ("Verify code error", "The code entered is incorrect."),
    2200: ("Callback verification failed", "The callback URL could not be verified."),
}

# HTTP status column of Meta's reference. Throttling codes (4, 80007, 130429, 131056) are listed as
# 400 there, although some providers report seeing 429; a fault's http_status can override this.
_HTTP_STATUS: dict[int, int] = {
    0: 401,
    190: 401,
    3: 500,
    131000: 500,
    131016: 500,
    131057: 500,
    2: 503,
    10: 403,
    368: 403,
    131005: 403,
    131031: 403,
    133000: 500,
    133004: 503,
}
_TRACE_ALPHABET = string.ascii_letters + string.digits


def fbtrace_id() -> str:
    return "A" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(22))


def http_status_for(code: int) -> int:
    if 200 <= code <= 299:  # Meta's "API Permission" range
        return 403
    return _HTTP_STATUS.get(code, 400)


class MetaError(Exception):
    """A Graph API failure, raised by handlers and rendered by :func:`error_middleware`."""

    def __init__(
        self,
        code: int,
        details: str | None = None,
        *,
        http_status: int | None = None,
        error_subcode: int | None = None,
        message: str | None = None,
        error_type: str = "OAuthException",
        with_error_data: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        title, default_details = _CATALOG.get(code, ("Unknown error", "An unknown error occurred."))
        self.code = code
        self.details = details or default_details
        self.http_status = http_status or http_status_for(code)
        self.error_subcode = error_subcode
        self.message = message or f"(#{code}) {title}"
        self.error_type = error_type
        self.with_error_data = with_error_data
        self.extra = extra or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        if self.with_error_data:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error.update(self.extra)
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def invalid_token() -> MetaError:
    # Graph's own wording for a token it cannot use; OAuth errors carry no "(#190)" prefix.
    return MetaError(
        190,
        "Invalid OAuth access token - Cannot parse access token",
        message="Invalid OAuth access token - Cannot parse access token",
    )


def unsupported_request(method: str, object_id: str) -> MetaError:
    """Graph's answer for an object id it does not know (or may not show): code 100, subcode 33."""
    message = (
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api"
    )
    return MetaError(
        100, message, error_subcode=33, message=message, error_type="GraphMethodException", with_error_data=False
    )


def required_param(name: str) -> MetaError:
    detail = f"The parameter {name} is required"
    return MetaError(100, detail, message=f"(#100) {detail}")


def invalid_param(detail: str) -> MetaError:
    return MetaError(100, detail, message=f"(#100) {detail}")


def nonexisting_field(name: str, node_type: str) -> MetaError:
    detail = f"Tried accessing nonexisting field ({name}) on node type ({node_type})"
    return MetaError(100, detail, message=f"(#100) {detail}", with_error_data=False)


def user_facing(code: int, subcode: int, message: str, title: str, user_msg: str) -> MetaError:
    """The verification errors' shape: Meta adds is_transient and a message meant for the end user."""
    extra = {"is_transient": False, "error_user_title": title, "error_user_msg": user_msg}
    return MetaError(code, user_msg, message=message, error_subcode=subcode, with_error_data=False, extra=extra)


def oauth_error(message: str, code: int = 100, subcode: int | None = None) -> MetaError:
    """Errors of /oauth/access_token: Graph's wording, no "(#code)" prefix, no error_data."""
    return MetaError(code, message, message=message, error_subcode=subcode, with_error_data=False)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except MetaError as exc:
        headers = {"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'} if exc.code == 190 else None
        return web.json_response(exc.body(), status=exc.http_status, headers=headers)

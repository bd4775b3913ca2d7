"""Meta's Graph API errors as typed exceptions, one class per family of codes.

The families and what to do about each come from Meta's Cloud API error-code reference (summarised in the
team's meta-cloud-api.md). ``retryable`` says whether the same request may succeed later; ``retry_after_s``
is a first delay (the caller adds backoff and jitter). The onboarding families (register, verification,
subscription, the Embedded Signup code) come from the same reference and ``onboarding-facts.md`` §1.5 and §4.
(Over 150 lines: it is one catalog of Meta's codes, which reads best in one place.)
"""

from __future__ import annotations

from typing import Any, ClassVar


class GraphError(Exception):
    retryable: ClassVar[bool] = False
    retry_after_s: ClassVar[float] = 0.0

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        details: str | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
    ):
        super().__init__(f"{message} ({code})" if code is not None else message)
        self.title = message
        self.code, self.subcode, self.details = code, subcode, details
        self.http_status, self.fbtrace_id = http_status, fbtrace_id


class TransientGraphError(GraphError):
    """Meta or the network had a problem: unknown error, service unavailable, timeout."""

    retryable = True
    retry_after_s = 2.0


class ThroughputExceeded(GraphError):
    """130429: the number's messages-per-second tier is reached; 131057: it is being upgraded."""

    retryable = True
    retry_after_s = 1.0


class PairRateExceeded(GraphError):
    """131056: too many messages from this number to this customer in a short time."""

    retryable = True
    retry_after_s = 6.0


class AppRateLimited(GraphError):
    """4, 80007, 130472: the app's or the WABA's call budget is spent."""

    retryable = True
    retry_after_s = 60.0


class ReEngagementRequired(GraphError):
    """131047: more than 24 h since the customer last wrote: only a template may be sent."""


class Undeliverable(GraphError):
    """131026, 131049, 131050: Meta will not deliver this message to this customer."""


class SpamLimited(GraphError):
    """131048: too many of the number's messages were blocked or reported: pause it."""


class TokenInvalid(GraphError):
    """190: the access token expired or was revoked: sending needs a new token."""


class NumberNotRegistered(GraphError):
    """133010: the phone number is not registered with the Cloud API."""


class InvalidRequest(GraphError):
    """100, 131008, 131009, 132000–132016: the request itself is wrong; it will never succeed."""


class UnknownObject(InvalidRequest):
    """100/33: no object with that id, or the token may not see it (a business token outside its WABA)."""


class PinMismatch(GraphError):
    """133005: the PIN is not the number's two-step verification PIN (also when re-registering a live number)."""


class ReverificationNeeded(GraphError):
    """133006: the number must be verified (request_code, verify_code) before it can be registered."""


class RegistrationBlocked(GraphError):
    """133000: a previous deregistration is incomplete: deregister again before registering."""


class RegistrationRateLimited(GraphError):
    """133016: more than 10 register requests for the number in 72 h; Meta blocks it for 72 h."""

    retryable = True
    retry_after_s = 3600.0


class PinGuessesLimited(GraphError):
    """133008, 133009: too many or too fast two-step PIN guesses: wait as long as ``details`` says."""

    retryable = True
    retry_after_s = 300.0


class NumberRecentlyDeleted(GraphError):
    """133015: the number's deletion is not complete yet: Meta says wait 5 minutes."""

    retryable = True
    retry_after_s = 300.0


class CodeRequestFailed(GraphError):
    """136024: Meta could not send the verification code (Meta marks it ``is_transient: false``)."""


class WrongVerificationCode(GraphError):
    """136025: the code entered is not the one sent: ask the client for it again, never retry it."""


class CallbackVerificationFailed(GraphError):
    """#2200: Meta's hub.challenge GET to the override callback failed (often a timeout behind a proxy)."""

    retryable = True
    retry_after_s = 30.0


class AuthorizationCodeRejected(GraphError):
    """100/36009: the Embedded Signup code was used already or expired (it lives 30 s): sign up again."""


class AppCredentialsRejected(GraphError):
    """101 (or code 1 from ``/oauth/access_token``): the app id or app secret is wrong: fix the configuration."""


class SyncAlreadyRequested(GraphError):
    """``smb_app_data`` refused a sync_type already requested for the number (each may be requested once): the
    sync is under way or done, so treat the step as done. See :func:`sync_error`."""


_BY_CODE: dict[int, type[GraphError]] = {
    1: TransientGraphError,
    2: TransientGraphError,
    131000: TransientGraphError,
    131016: TransientGraphError,
    130429: ThroughputExceeded,
    131057: ThroughputExceeded,
    131056: PairRateExceeded,
    4: AppRateLimited,
    80007: AppRateLimited,
    130472: AppRateLimited,
    131047: ReEngagementRequired,
    131026: Undeliverable,
    131049: Undeliverable,
    131050: Undeliverable,
    131048: SpamLimited,
    190: TokenInvalid,
    133010: NumberNotRegistered,
    100: InvalidRequest,
    131008: InvalidRequest,
    131053: InvalidRequest,
    131009: InvalidRequest,
    101: AppCredentialsRejected,
    133000: RegistrationBlocked,
    133004: TransientGraphError,
    133005: PinMismatch,
    133006: ReverificationNeeded,
    133008: PinGuessesLimited,
    133009: PinGuessesLimited,
    133015: NumberRecentlyDeleted,
    133016: RegistrationRateLimited,
    136024: CodeRequestFailed,
    136025: WrongVerificationCode,
    2200: CallbackVerificationFailed,
}
# (code, error_subcode) pairs whose subcode names a narrower family than the code alone.
_BY_SUBCODE: dict[tuple[int, int], type[GraphError]] = {
    (100, 33): UnknownObject,
    (100, 36009): AuthorizationCodeRejected,
}


def error_class(code: int | None, http_status: int | None = None, subcode: int | None = None) -> type[GraphError]:
    if code is not None and subcode is not None and (code, subcode) in _BY_SUBCODE:
        return _BY_SUBCODE[code, subcode]
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if code is not None and 132000 <= code <= 132016:
        return InvalidRequest
    if http_status is not None and (http_status >= 500 or http_status == 429):
        return TransientGraphError
    return GraphError


def sync_error(error: GraphError) -> GraphError:
    """Narrow ``POST /{phone_number_id}/smb_app_data``'s refusals. Meta documents that each sync_type can be
    requested only once but names no code for the second request; it answers code 100 with "already" in its
    message (integrators match on that wording), and so does the emulator. Other code-100 refusals, such as a
    number that is not a coexistence one, stay :class:`InvalidRequest`."""
    if error.code == 100 and error.subcode != 33 and "already" in error.title.lower():
        return SyncAlreadyRequested(
            error.title,
            code=error.code,
            subcode=error.subcode,
            details=error.details,
            http_status=error.http_status,
            fbtrace_id=error.fbtrace_id,
        )
    return error


def from_response(http_status: int, body: Any) -> GraphError:
    """Build the typed error from Meta's body ``{"error": {"message", "code", "error_subcode", …}}``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        cls = error_class(None, http_status)
        return cls(f"Graph API answered HTTP {http_status} without an error body", http_status=http_status)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    # The verification errors carry no error_data but a message meant for the end user.
    details = details or error.get("error_user_msg")
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    return error_class(code, http_status, subcode)(
        str(error.get("message") or "Graph API error"),
        code=code,
        subcode=subcode,
        details=details,
        http_status=http_status,
        fbtrace_id=error.get("fbtrace_id"),
    )

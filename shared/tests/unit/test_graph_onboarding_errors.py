"""Meta's onboarding error codes map to their families: what a retry can fix, and what needs the client."""

from __future__ import annotations

import pytest

from shared.graph import errors as ge


@pytest.mark.parametrize(
    ("code", "subcode", "family", "retryable"),
    [
        (133005, None, ge.PinMismatch, False),
        (133006, None, ge.ReverificationNeeded, False),
        (133010, None, ge.NumberNotRegistered, False),
        (133000, None, ge.RegistrationBlocked, False),
        (133004, None, ge.TransientGraphError, True),
        (133008, None, ge.PinGuessesLimited, True),
        (133009, None, ge.PinGuessesLimited, True),
        (133015, None, ge.NumberRecentlyDeleted, True),
        (133016, None, ge.RegistrationRateLimited, True),
        (136024, 2388091, ge.CodeRequestFailed, False),
        (136025, 2388093, ge.WrongVerificationCode, False),
        (100, 36009, ge.AuthorizationCodeRejected, False),
        (100, 33, ge.UnknownObject, False),
        (100, 2388093, ge.InvalidRequest, False),
        (2200, None, ge.CallbackVerificationFailed, True),
        (101, None, ge.AppCredentialsRejected, False),
    ],
)
def test_onboarding_code_families(code: int, subcode: int | None, family: type[ge.GraphError], retryable: bool) -> None:
    body = {"error": {"message": "m", "type": "OAuthException", "code": code, "error_subcode": subcode}}
    error = ge.from_response(400, body)
    assert type(error) is family
    assert (error.retryable, error.code, error.subcode) == (retryable, code, subcode)


def test_a_verification_error_s_details_are_meta_s_words_for_the_user() -> None:
    body = {
        "error": {"message": "Verify code error", "code": 136025, "error_user_msg": "The code entered is incorrect."}
    }
    assert ge.from_response(400, body).details == "The code entered is incorrect."


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_and_throttling_during_onboarding_are_retried(status: int) -> None:
    assert ge.from_response(status, None).retryable is True

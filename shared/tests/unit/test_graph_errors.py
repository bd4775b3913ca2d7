"""Meta's error codes map to the right family: what is retried and what fails at once."""

from __future__ import annotations

import pytest

from shared.graph import errors as ge


@pytest.mark.parametrize(
    ("code", "family", "retryable"),
    [
        (130429, ge.ThroughputExceeded, True),
        (131056, ge.PairRateExceeded, True),
        (131000, ge.TransientGraphError, True),
        (80007, ge.AppRateLimited, True),
        (131047, ge.ReEngagementRequired, False),
        (131026, ge.Undeliverable, False),
        (190, ge.TokenInvalid, False),
        (133010, ge.NumberNotRegistered, False),
        (132001, ge.InvalidRequest, False),
        (100, ge.InvalidRequest, False),
    ],
)
def test_code_families(code: int, family: type[ge.GraphError], retryable: bool) -> None:
    error = ge.from_response(400, {"error": {"message": "m", "code": code, "fbtrace_id": "T"}})
    assert type(error) is family
    assert error.retryable is retryable
    assert error.code == code and error.fbtrace_id == "T"


def test_details_come_from_error_data() -> None:
    body = {
        "error": {
            "message": "(#131047) Re-engagement message",
            "code": 131047,
            "error_data": {"messaging_product": "whatsapp", "details": "more than 24 hours"},
        }
    }
    error = ge.from_response(400, body)
    assert error.details == "more than 24 hours"
    assert "131047" in str(error)


def test_server_errors_without_a_body_are_transient_and_client_errors_are_not() -> None:
    assert isinstance(ge.from_response(502, None), ge.TransientGraphError)
    assert ge.from_response(404, "<html>").retryable is False

from __future__ import annotations

import pytest

from directory.phones import InvalidPhoneNumber, to_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+57 601 555 0100", "+576015550100"),
        ("+57 (300) 123-4567", "+573001234567"),
        ("+1 650-555-1234", "+16505551234"),
    ],
)
def test_numbers_are_stored_in_e164(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["3001234567", "+57 12", "not a number"])
def test_impossible_numbers_are_refused_with_the_reason(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"E\.164|not a phone number|not a valid number"):
        to_e164(raw)

"""Phone numbers of twelve countries, with one-, two- and three-digit country codes and their national quirks: what
is stored (E.164), what Meta is sent (cc and national number, split by the library), the region and the mask."""

from __future__ import annotations

import pytest

from shared.phones import InvalidPhoneNumber, parse_phone, to_e164


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


@pytest.mark.parametrize(
    ("raw", "default_region", "e164", "cc", "national", "region"),
    [
        # +1, NANP: one country code, many countries; the region comes from the area code.
        ("+1 212 555 0123", None, "+12125550123", "1", "2125550123", "US"),
        ("(613) 555-0123", "CA", "+16135550123", "1", "6135550123", "CA"),
        ("1 212 555 0123", "US", "+12125550123", "1", "2125550123", "US"),  # the trunk 1 dialled nationally
        ("+1 242 357 1234", None, "+12423571234", "1", "2423571234", "BS"),
        # +7: Russia and Kazakhstan share it; Russia's trunk prefix is 8.
        ("8 (495) 123-45-67", "RU", "+74951234567", "7", "4951234567", "RU"),
        ("+7 701 234 5678", None, "+77012345678", "7", "7012345678", "KZ"),
        ("+34 612 34 56 78", None, "+34612345678", "34", "612345678", "ES"),
        ("612 34 56 78", "ES", "+34612345678", "34", "612345678", "ES"),
        # +44: the trunk 0 given nationally, or wrongly kept after +44 as "(0)".
        ("07400 123456", "GB", "+447400123456", "44", "7400123456", "GB"),
        ("+44 (0)20 7946 0958", None, "+442079460958", "44", "2079460958", "GB"),
        # +52: mobiles without the old 1 (Mexico's plan since 2019); the old form is still accepted.
        ("+52 55 1234 5678", None, "+525512345678", "52", "5512345678", "MX"),
        ("+52 1 55 1234 5678", None, "+525512345678", "52", "5512345678", "MX"),
        # +54 9: Argentina's mobiles carry a 9 after the cc; nationally they are dialled 0 11 15 ….
        ("+54 9 11 2345 6789", None, "+5491123456789", "54", "91123456789", "AR"),
        ("011 15 2345-6789", "AR", "+5491123456789", "54", "91123456789", "AR"),
        ("+54 11 2345 6789", None, "+541123456789", "54", "1123456789", "AR"),  # a landline: no 9
        # +55: Brazil's mobiles have nine digits after the area code.
        ("+55 11 91234 5678", None, "+5511912345678", "55", "11912345678", "BR"),
        ("+57 300 123 4567", None, "+573001234567", "57", "3001234567", "CO"),
        ("300 123 4567", "CO", "+573001234567", "57", "3001234567", "CO"),
        ("+91 98765 43210", None, "+919876543210", "91", "9876543210", "IN"),
        ("098765 43210", "IN", "+919876543210", "91", "9876543210", "IN"),
        # Three-digit country codes, each dropping its national trunk 0.
        ("099 123 4567", "EC", "+593991234567", "593", "991234567", "EC"),
        ("+971 50 123 4567", None, "+971501234567", "971", "501234567", "AE"),
        ("050 123 4567", "AE", "+971501234567", "971", "501234567", "AE"),
        ("+234 803 123 4567", None, "+2348031234567", "234", "8031234567", "NG"),
        ("0803 123 4567", "NG", "+2348031234567", "234", "8031234567", "NG"),
        # A national number may keep its leading zero (Italy): the library's national significant number does.
        ("+39 06 1234 5678", None, "+390612345678", "39", "0612345678", "IT"),
    ],
)
def test_the_library_splits_the_country_code_from_the_national_number(
    raw: str, default_region: str | None, e164: str, cc: str, national: str, region: str
) -> None:
    number = parse_phone(raw, default_region)
    assert (number.e164, number.cc, number.national_number, number.region) == (e164, cc, national, region)
    assert number.e164 == f"+{number.cc}{number.national_number}"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("+55 11 8123 4567", "BR"),  # a mobile of eight digits: the ninth digit is missing
        ("+52 1 12", "MX"),
        ("+44 7911", "GB"),
        ("+593 12", "EC"),
        ("+999 123 456 789", "E.164"),  # no such country code
        ("+57 300 123 4567 8", "CO"),
    ],
)
def test_an_impossible_number_says_for_which_country_and_how_to_write_it(raw: str, why: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"E\.164") as refused:
        parse_phone(raw)
    assert why in str(refused.value) and raw in str(refused.value)


def test_a_national_number_without_a_default_region_is_refused_asking_for_the_country_code() -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"country code, e\.g\. \+57"):
        parse_phone("300 123 4567")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+57 300 123 4567", "+57 ••• •••••67"),
        ("+1 212 555 0123", "+1 •••-•••-••23"),
        ("+593 99 123 4567", "+593 •• ••• ••67"),
    ],
)
def test_the_masked_form_shows_only_the_country_code_and_the_last_two_digits(raw: str, masked: str) -> None:
    number = parse_phone(raw)
    assert number.masked == masked
    assert number.national_number not in number.masked

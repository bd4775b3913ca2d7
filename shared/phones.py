"""Phone numbers as wamux stores and checks them, E.164, checked and split by ``phonenumbers``: the directory
stores them, the gateway checks a number typed into its REST API with the same code.

Meta's ``POST /{waba_id}/phone_numbers`` wants the country calling code and the national number apart. The split is
the library's (``country_code``, national significant number), never a slice of the string: country codes have one
to three digits (+1, +57, +593), and a national number may keep a leading zero (Italy's +39 06…).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat

_MEXICO = 52


class InvalidPhoneNumber(ValueError):
    pass


@dataclass(frozen=True)
class PhoneNumber:
    """One number, in each form wamux needs it."""

    e164: str  # '+573001234567'
    cc: str  # '57': Meta's ``cc``
    national_number: str  # '3001234567': Meta's ``phone_number``
    region: str | None  # 'CO' (ISO 3166-1); None for numbers of no single country (+800, +882…)
    international: str  # '+57 300 1234567', as people read it

    @property
    def masked(self) -> str:
        """For logs and screens that must not show the number: the country code and the last two digits
        ('+57 ••• ••••67')."""
        prefix = f"+{self.cc}"
        rest = self.international[len(prefix) :]
        digits = sum(ch.isdigit() for ch in rest)
        seen, out = 0, []
        for ch in rest:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen > digits - 2 else "•")
            else:
                out.append(ch)
        return prefix + "".join(out)


def parse_phone(raw: str, default_region: str | None = None) -> PhoneNumber:
    """'+57 300 123 4567', or '300 123 4567' with ``default_region='CO'``; a number that cannot exist is refused
    with what to do about it."""
    parsed = _parse(raw, default_region)
    if not phonenumbers.is_valid_number(parsed):
        parsed = _without_mexicos_old_mobile_one(parsed) or parsed
    if not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
        raise InvalidPhoneNumber(
            f"{raw!r} is not a valid number for {region if region != 'ZZ' else 'any country'}: "
            "give it in E.164, e.g. +57 300 123 4567"
        )
    return PhoneNumber(
        e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
        cc=str(parsed.country_code),
        national_number=phonenumbers.national_significant_number(parsed),
        region=phonenumbers.region_code_for_number(parsed),
        international=phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL),
    )


def to_e164(raw: str, default_region: str | None = None) -> str:
    """'+57 300 123 4567' → '+573001234567'; a number that cannot exist is refused with the reason."""
    return parse_phone(raw, default_region).e164


def _parse(raw: str, default_region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidPhoneNumber(
                f"{raw!r} is not a phone number wamux can place: give it in E.164 with its country code, "
                "e.g. +57 300 123 4567"
            ) from exc
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {exc}") from exc


def _without_mexicos_old_mobile_one(parsed: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """Mexico dropped the '1' dialled after +52 before mobiles in 2019, but people (and WhatsApp's own wa_ids)
    still write +52 1 55…: the same number without it."""
    if parsed.country_code != _MEXICO:
        return None
    national = phonenumbers.national_significant_number(parsed)
    if len(national) != 11 or not national.startswith("1"):
        return None
    candidate = _parse(f"+{_MEXICO}{national.removeprefix('1')}", None)
    return candidate if phonenumbers.is_valid_number(candidate) else None

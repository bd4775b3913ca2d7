"""Phone numbers as the directory stores them: E.164, checked by ``phonenumbers``."""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(raw: str, default_region: str | None = None) -> str:
    """'+57 300 123 4567' → '+573001234567'; a number that cannot exist is refused with the reason."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid number for its country: give it in E.164, e.g. +57…")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

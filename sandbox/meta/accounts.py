"""What the emulator knows of onboarding: WABAs, their phone numbers, and the business tokens that reach them.

A WABA is created by the signup page, or on first use by the system-user token (the partner's own WABA, the
emulator's stand-in for one made in Business Manager). A business token from the code exchange reaches only
the WABAs it was issued for and their numbers, as a client's token does at Meta.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import phonenumbers

# A token is "EAA" + opaque characters at Meta; the length is only for realism.
_TOKEN_BYTES = 96


def new_object_id() -> str:
    """Graph object ids (WABAs, phone numbers, businesses): 15 or 16 decimal digits."""
    return str(10**14 + secrets.randbelow(9 * 10**15))


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")  # Graph's own time format


@dataclass
class Waba:
    id: str
    name: str
    owner_business_id: str
    subscribed: bool = False
    override_callback_uri: str | None = None
    verify_token: str | None = None
    phone_number_ids: list[str] = field(default_factory=list)


@dataclass
class PhoneNumber:
    id: str
    waba_id: str
    cc: str
    national_number: str
    verified_name: str
    code_verification_status: str = "NOT_VERIFIED"
    name_status: str = "APPROVED"  # the emulator reviews display names at once
    quality_rating: str = "GREEN"
    registered: bool = False
    is_on_biz_app: bool = False  # coexistence: the number stays on the WhatsApp Business app
    pin: str | None = None  # two-step verification PIN, set by the first register
    last_code: str | None = None  # the SMS/voice code last "sent", readable under /_sandbox/
    code_pending: bool = False
    register_requests: deque[float] = field(default_factory=deque)
    register_blocked_until: float = 0.0
    last_onboarded_time: datetime | None = None
    syncs: list[str] = field(default_factory=list)  # smb_app_data sync_types requested (each once)

    @property
    def digits(self) -> str:
        return self.cc + self.national_number

    @property
    def display_phone_number(self) -> str:
        """Graph shows numbers formatted ("+1 555-555-5555"); webhooks' metadata carries the bare digits."""
        try:
            parsed = phonenumbers.parse("+" + self.digits)
        except phonenumbers.NumberParseException:
            return self.digits
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    @property
    def on_cloud_api(self) -> bool:
        return self.registered or self.is_on_biz_app

    @property
    def platform_type(self) -> str:
        return "CLOUD_API" if self.on_cloud_api else "NOT_APPLICABLE"

    @property
    def status(self) -> str:
        return "CONNECTED" if self.on_cloud_api else "PENDING"


def split_number(cc: str, phone_number: str) -> tuple[str, str] | None:
    """(cc, national number), or None. Meta's examples give phone_number with and without the cc."""
    cc, raw = "".join(filter(str.isdigit, cc)), "".join(filter(str.isdigit, phone_number))
    candidates = [cc + raw] if cc else []
    if not cc or raw.startswith(cc):
        candidates.append(raw)
    for digits in candidates:
        try:
            parsed = phonenumbers.parse("+" + digits)
        except phonenumbers.NumberParseException:
            continue
        # Possible, not valid: Meta's test numbers (+1 555 …) are fictional and still accepted.
        if phonenumbers.is_possible_number(parsed) and (not cc or str(parsed.country_code) == cc):
            return str(parsed.country_code), str(parsed.national_number)
    return None


class Accounts:
    def __init__(self) -> None:
        self.wabas: dict[str, Waba] = {}
        self.numbers: dict[str, PhoneNumber] = {}
        self._tokens: dict[str, set[str]] = {}  # business token -> WABA ids

    def waba(self, waba_id: str) -> Waba | None:
        return self.wabas.get(waba_id)

    def adopt_waba(self, waba_id: str) -> Waba:
        """The partner's own WABA, known from its first use with the system-user token."""
        known = self.wabas.get(waba_id)
        if known is None:
            known = self.wabas[waba_id] = Waba(waba_id, f"WABA {waba_id}", new_object_id())
        return known

    def create_waba(self, name: str, owner_business_id: str | None = None) -> Waba:
        waba = Waba(new_object_id(), name, owner_business_id or new_object_id())
        self.wabas[waba.id] = waba
        return waba

    def number_by_digits(self, digits: str) -> PhoneNumber | None:
        return next((n for n in self.numbers.values() if n.digits == digits), None)

    def add_number(self, waba: Waba, cc: str, national_number: str, verified_name: str) -> PhoneNumber:
        number = PhoneNumber(new_object_id(), waba.id, cc, national_number, verified_name)
        self.numbers[number.id] = number
        waba.phone_number_ids.append(number.id)
        return number

    def numbers_of(self, waba_id: str) -> list[PhoneNumber]:
        waba = self.wabas.get(waba_id)
        return [self.numbers[i] for i in waba.phone_number_ids] if waba else []

    def issue_token(self, *waba_ids: str) -> str:
        token = "EAA" + secrets.token_urlsafe(_TOKEN_BYTES)
        self._tokens[token] = set(waba_ids)
        return token

    def wabas_of_business(self, business_id: str) -> list[str]:
        """The WABAs a client's business portfolio owns (and has shared with the partner)."""
        return [w.id for w in self.wabas.values() if w.owner_business_id == business_id]

    def is_business_token(self, token: str) -> bool:
        return token in self._tokens

    def revoke_token(self, token: str) -> bool:
        """As when the client removes the app or changes its password: the token answers 190 from now on."""
        return self._tokens.pop(token, None) is not None

    def covers(self, token: str, object_id: str) -> bool:
        """Whether a business token reaches this WABA or phone number."""
        wabas = self._tokens.get(token, set())
        number = self.numbers.get(object_id)
        return object_id in wabas or (number is not None and number.waba_id in wabas)

    def override_for(self, waba_id: str) -> str | None:
        waba = self.wabas.get(waba_id)
        return waba.override_callback_uri if waba is not None and waba.subscribed else None

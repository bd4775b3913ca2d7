"""The codes Embedded Signup hands the partner: single use, and short-lived (Meta: 30 seconds)."""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass


class Refusal(enum.Enum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass
class SignupCode:
    waba_id: str
    expires_at: float
    used: bool = False


class SignupCodes:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._codes: dict[str, SignupCode] = {}

    def issue(self, waba_id: str) -> str:
        now = self._clock()
        # Used and expired codes are kept a while to answer "has been used" rather than "invalid".
        for code, entry in list(self._codes.items()):
            if entry.expires_at + 3600 < now:
                del self._codes[code]
        code = "AQ" + secrets.token_urlsafe(150)
        self._codes[code] = SignupCode(waba_id, now + self._ttl_s)
        return code

    def redeem(self, code: str) -> str | Refusal:
        """The WABA the code grants, or why it grants nothing. A code is spent by its first exchange."""
        entry = self._codes.get(code)
        if entry is None:
            return Refusal.UNKNOWN
        if entry.used:
            return Refusal.USED
        if self._clock() >= entry.expires_at:
            return Refusal.EXPIRED
        entry.used = True
        return entry.waba_id

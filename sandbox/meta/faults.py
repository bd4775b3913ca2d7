"""Injected Graph API failures: "the next N sends (to this number / customer) fail with code X".

A fault with an ``edge`` fails the next N onboarding calls on that Graph edge instead (``register``,
``subscribed_apps``…, optionally only for one number or WABA), answered with Meta's body for the code. It is
checked where the call would take effect — after the token, the object and the parameters — so a refused call
changes nothing, as Meta's refusals do. A ``media_corrupt`` fault spoils the next N media downloads (of this
number's media): the bytes served no longer match the sha256 that ``GET /{media_id}`` announced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.meta.errors import MetaError

# The onboarding calls, by the edge of their Graph path: which object id (if any) narrows a fault to one call.
Edge = Literal["phone_numbers", "request_code", "verify_code", "register", "subscribed_apps", "oauth/access_token"]
_ON_NUMBER = ("request_code", "verify_code", "register")
_ON_WABA = ("phone_numbers", "subscribed_apps")


class FaultRequest(BaseModel):
    """Body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    code: int | None = None
    media_corrupt: bool = False
    edge: Edge | None = None
    count: int = Field(default=1, ge=1)
    phone_number_id: str | None = None
    waba_id: str | None = None
    to: str | None = None
    http_status: int | None = Field(default=None, ge=400, le=599)
    error_subcode: int | None = None
    details: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FaultRequest:
        if (self.code is None) == (not self.media_corrupt):
            raise ValueError("give either code (a failing call) or media_corrupt: true (a corrupted download)")
        if self.media_corrupt and (self.to is not None or self.edge is not None):
            raise ValueError("media_corrupt faults match on phone_number_id only")
        if self.edge is None and self.waba_id is not None:
            raise ValueError("waba_id narrows an onboarding fault: give the edge (phone_numbers, subscribed_apps)")
        if self.edge is not None:
            if self.to is not None:
                raise ValueError("an onboarding call has no recipient: drop to")
            if self.phone_number_id is not None and self.edge not in _ON_NUMBER:
                raise ValueError(f"{self.edge} is not called on a number: narrow it with waba_id, or not at all")
            if self.waba_id is not None and self.edge not in _ON_WABA:
                raise ValueError(f"{self.edge} is not called on a WABA: narrow it with phone_number_id, or not at all")
        return self


@dataclass
class Fault:
    code: int | None
    remaining: int
    phone_number_id: str | None
    to: str | None
    http_status: int | None
    error_subcode: int | None
    details: str | None
    media_corrupt: bool = False
    edge: Edge | None = None
    waba_id: str | None = None

    def matches(self, phone_number_id: str, to: str | None) -> bool:
        return (self.phone_number_id in (None, phone_number_id)) and (self.to in (None, to))

    def matches_call(self, edge: Edge, object_id: str | None) -> bool:
        narrowed = self.phone_number_id or self.waba_id
        return self.edge == edge and narrowed in (None, object_id)

    def error(self) -> MetaError:
        assert self.code is not None  # only send and onboarding faults are turned into errors
        return MetaError(
            self.code,
            self.details,
            http_status=self.http_status,
            error_subcode=self.error_subcode,
            with_error_data=self.edge != "oauth/access_token",  # Graph's OAuth errors carry no error_data
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    """Faults are consumed first-in first-out, so tests can queue different codes for successive sends."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, request: FaultRequest) -> Fault:
        fault = Fault(
            code=request.code,
            remaining=request.count,
            phone_number_id=request.phone_number_id,
            to=request.to,
            http_status=request.http_status,
            error_subcode=request.error_subcode,
            details=request.details,
            media_corrupt=request.media_corrupt,
            edge=request.edge,
            waba_id=request.waba_id,
        )
        self._faults.append(fault)
        return fault

    def take(self, phone_number_id: str, to: str) -> MetaError | None:
        fault = self._consume(lambda f: f.edge is None and not f.media_corrupt and f.matches(phone_number_id, to))
        return fault.error() if fault is not None else None

    def take_media_corruption(self, phone_number_id: str) -> bool:
        return self._consume(lambda f: f.media_corrupt and f.matches(phone_number_id, None)) is not None

    def refuse_call(self, edge: Edge, object_id: str | None = None) -> None:
        """Raise the injected :class:`MetaError` for this onboarding call, if a fault is set for it."""
        fault = self._consume(lambda f: f.matches_call(edge, object_id))
        if fault is not None:
            raise fault.error()

    def _consume(self, wanted: Callable[[Fault], bool]) -> Fault | None:
        for fault in self._faults:
            if wanted(fault):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> None:
        self._faults.clear()

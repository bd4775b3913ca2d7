"""Injected Graph API failures: "the next N sends (to this number / customer) fail with code X".

A ``media_corrupt`` fault instead spoils the next N media downloads (of this number's media): the bytes
served no longer match the sha256 that ``GET /{media_id}`` announced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.meta.errors import MetaError


class FaultRequest(BaseModel):
    """Body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    code: int | None = None
    media_corrupt: bool = False
    count: int = Field(default=1, ge=1)
    phone_number_id: str | None = None
    to: str | None = None
    http_status: int | None = Field(default=None, ge=400, le=599)
    error_subcode: int | None = None
    details: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FaultRequest:
        if (self.code is None) == (not self.media_corrupt):
            raise ValueError("give either code (a failing send) or media_corrupt: true (a corrupted download)")
        if self.media_corrupt and self.to is not None:
            raise ValueError("media_corrupt faults match on phone_number_id only")
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

    def matches(self, phone_number_id: str, to: str | None) -> bool:
        return (self.phone_number_id in (None, phone_number_id)) and (self.to in (None, to))

    def error(self) -> MetaError:
        assert self.code is not None  # only send faults are turned into errors
        return MetaError(self.code, self.details, http_status=self.http_status, error_subcode=self.error_subcode)

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
        )
        self._faults.append(fault)
        return fault

    def take(self, phone_number_id: str, to: str) -> MetaError | None:
        fault = self._consume(phone_number_id, to, media_corrupt=False)
        return fault.error() if fault is not None else None

    def take_media_corruption(self, phone_number_id: str) -> bool:
        return self._consume(phone_number_id, None, media_corrupt=True) is not None

    def _consume(self, phone_number_id: str, to: str | None, *, media_corrupt: bool) -> Fault | None:
        for fault in self._faults:
            if fault.media_corrupt == media_corrupt and fault.matches(phone_number_id, to):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> None:
        self._faults.clear()

"""Injected Graph API failures: "the next N sends (to this number / customer) fail with code X"."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandbox.meta_errors import MetaError


class FaultRequest(BaseModel):
    """Body of ``POST /_sandbox/faults``."""

    model_config = ConfigDict(extra="forbid")

    code: int
    count: int = Field(default=1, ge=1)
    phone_number_id: str | None = None
    to: str | None = None
    http_status: int | None = Field(default=None, ge=400, le=599)
    error_subcode: int | None = None
    details: str | None = None


@dataclass
class Fault:
    code: int
    remaining: int
    phone_number_id: str | None
    to: str | None
    http_status: int | None
    error_subcode: int | None
    details: str | None

    def matches(self, phone_number_id: str, to: str) -> bool:
        return (self.phone_number_id in (None, phone_number_id)) and (self.to in (None, to))

    def error(self) -> MetaError:
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
        )
        self._faults.append(fault)
        return fault

    def take(self, phone_number_id: str, to: str) -> MetaError | None:
        for fault in self._faults:
            if fault.matches(phone_number_id, to):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault.error()
        return None

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> None:
        self._faults.clear()

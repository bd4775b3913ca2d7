"""The envelope every broker message travels in, and the base classes of commands and events.

Commands are imperative requests (``message.send``), events past-tense facts (``message.sent``). The
routing key of a message is its ``type``; commands go to the commands exchange, events to the events one.
The envelope ``id`` is the idempotency key: a consumer that has seen an id has done the work.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

# Fixed namespace so that ids derived from Meta's identifiers are the same in every replica and restart.
WAMUX_NAMESPACE = uuid.UUID("6f1c1f4e-8a0a-4c55-9a49-2f3bd1c0a7d1")


def derived_id(*parts: str) -> uuid.UUID:
    """A deterministic envelope id, e.g. ``derived_id("message.received", wamid)``: a redelivered cause
    produces the same id, so downstream dedup recognises the duplicate."""
    return uuid.uuid5(WAMUX_NAMESPACE, "\x1f".join(parts))


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    KIND: ClassVar[Literal["command", "event"]]


class Command(Payload):
    KIND: ClassVar[Literal["command", "event"]] = "command"


class Event(Payload):
    KIND: ClassVar[Literal["command", "event"]] = "event"


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    tenant_id: uuid.UUID | None = None
    correlation_id: str
    data: P


class EnvelopeHeader(BaseModel):
    """The envelope without its payload: read first, to pick the payload model by ``type``."""

    model_config = ConfigDict(extra="allow")
    id: uuid.UUID
    type: str
    version: int = 1
    tenant_id: uuid.UUID | None = None
    correlation_id: str


def wrap(
    data: P,
    *,
    correlation_id: str,
    tenant_id: uuid.UUID | None = None,
    id: uuid.UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[P]:
    fields: dict[str, Any] = {"type": data.TYPE, "correlation_id": correlation_id, "tenant_id": tenant_id}
    if id is not None:
        fields["id"] = id
    if occurred_at is not None:
        fields["occurred_at"] = occurred_at
    model: Any = Envelope[type(data)]  # type: ignore[misc]  # parametrised at run time, for validation
    return cast(Envelope[P], model(data=data, **fields))

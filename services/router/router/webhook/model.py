"""The reading rules every model facing Meta shares: keep what is unknown, never fail on what is optional.

A webhook is read to route it; one odd value (a caption that is a number, an ``errors`` item that is a string)
must not cost the message it belongs to, nor its neighbours. So beyond the few fields a piece cannot be
routed without (a wamid, a timestamp, a ``phone_number_id``), fields are :data:`Lenient` (an unreadable value
becomes ``None``) and lists are :data:`Readable` (unreadable items are left out). The raw payload stays with
the update that carries it, so nothing Meta sent is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

T = TypeVar("T")


class MetaModel(BaseModel):
    # Meta sends some ids as JSON numbers (message_template_id, entity_id): read them as the strings they are.
    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)


def unix_time(value: Any) -> datetime:
    """Meta's timestamps: unix seconds, usually a string (``"1739321024"``), sometimes a number."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected unix seconds, got {type(value).__name__}")
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:  # out of datetime's range, or not digits
        raise ValueError(f"not unix seconds: {str(value)[:40]!r}") from exc


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


def _readable_items(value: Any, handler: ValidatorFunctionWrapHandler) -> list[Any]:
    if value is None:
        return []
    # A lone object where Meta documents a list is read as a list of one rather than dropped.
    items = value if isinstance(value, list) else [value]
    kept: list[Any] = []
    for item in items:
        try:
            kept.extend(handler([item]))
        except ValidationError:
            continue
    return kept


UnixTime = Annotated[datetime, BeforeValidator(unix_time)]
# An identifier Meta assigns (wamid, wa_id, phone_number_id, status): a few dozen characters. Bounded because they
# are stored in indexes, which refuse entries of more than a few kB; a longer one makes its piece unreadable.
MetaId = Annotated[str, StringConstraints(max_length=256)]
# An optional value that, when unreadable, is read as absent (``None``) instead of failing its parent.
Lenient = Annotated[T | None, WrapValidator(_or_none)]
# A list whose unreadable items are left out (they remain in the raw payload).
Readable = Annotated[list[T], WrapValidator(_readable_items)]


def or_default(factory: Callable[[], Any]) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    """A wrap validator reading an unreadable value as ``factory()`` (fields with a non-``None`` default)."""

    def read(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return factory()

    return read


LenientStr = Annotated[str, WrapValidator(or_default(str))]
LenientDict = Annotated[dict[str, Any], WrapValidator(or_default(dict))]


def short_reason(exc: ValidationError) -> str:
    """The first problems of a validation error, without the (possibly huge) input values."""
    problems = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors(include_input=False)]
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(problems[:3]) + more


class Metadata(MetaModel):
    display_phone_number: LenientStr = ""
    phone_number_id: MetaId

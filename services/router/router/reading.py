"""Reading a signed webhook body into Meta's models, whatever bytes it holds, in a form PostgreSQL can store.

JSON may carry what ``text`` and ``jsonb`` cannot: NUL (``\\u0000``) and lone surrogates (``\\ud800``). Meta signs
what it signs, and answering 200 means it will not send it again, so refusing the body would lose every valid
message beside the bad one. Such characters become U+FFFD (the replacement character), containers nested past
:data:`MAX_DEPTH` (Meta's own payloads are about a dozen deep; parsers give up at a few hundred) become a
placeholder, and the exact bytes are kept in ``router.originals`` for whoever needs what was sent.

The common body takes the fast path (pydantic's JSON parser straight into the models); only a body holding a
NUL, or one that parser refuses, is read the slow way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from router.webhook.notification import Notification
from shared.text import storable_text

MAX_DEPTH = 64
TOO_DEEP = f"[wamux: nested deeper than {MAX_DEPTH} levels; see router.originals]"
_NUL = re.compile(r"\\u0000|\x00")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


@dataclass(frozen=True)
class Reading:
    """A notification, or why the body is none (``reason``; ``payload`` the body in a storable form).

    ``altered``: what is stored differs from what was signed; the exact bytes go to ``router.originals``.
    """

    notification: Notification | None
    altered: bool = False
    reason: str | None = None
    payload: Any = None


def read(body: str) -> Reading:
    if not _NUL.search(body):
        try:
            return Reading(Notification.model_validate_json(body))
        except ValidationError:
            pass  # a lone surrogate, a raw control character, deep nesting, or not a notification at all
    try:
        parsed, pruned = _loads(body)
    except ValueError as exc:
        return Reading(None, altered=True, reason=f"not a Meta notification: {exc}", payload=storable(body)[0])
    value, changed = storable(parsed)
    try:
        return Reading(Notification.model_validate(value), altered=pruned or changed)
    except ValidationError as exc:
        reason = f"not a Meta notification: {exc.errors()[0]['msg']}"
        return Reading(None, altered=True, reason=reason, payload=storable(body)[0])


def storable(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """``value`` with every string (and key) storable in PostgreSQL, and no container deeper than MAX_DEPTH;
    and whether anything had to change."""
    if isinstance(value, str):
        clean = storable_text(value)
        return clean, clean is not value
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return TOO_DEEP, True
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            clean_key, key_changed = storable(key)
            out[clean_key], item_changed = storable(item, depth + 1)
            changed = changed or key_changed or item_changed
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        items = [storable(item, depth + 1) for item in value]
        if any(changed for _, changed in items):
            return [item for item, _ in items], True
        return value, False
    return value, False


def _loads(body: str) -> tuple[Any, bool]:
    """Python's parser (strict=False: raw control characters in strings are read too); past its recursion
    limit, the text is first cut at MAX_DEPTH."""
    try:
        return json.loads(body, strict=False), False
    except RecursionError:
        return json.loads(_cut_deep(body), strict=False), True


def _cut_deep(text: str) -> str:
    """The JSON text with every container that opens below MAX_DEPTH replaced by :data:`TOO_DEEP`."""
    pieces: list[str] = []
    depth, kept_to, cut_from = 0, 0, -1
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth == MAX_DEPTH + 1 and cut_from < 0:
                cut_from = token.start()
        elif mark in "]}":
            depth -= 1
            if depth == MAX_DEPTH and cut_from >= 0:
                pieces += [text[kept_to:cut_from], json.dumps(TOO_DEEP)]
                kept_to, cut_from = token.end(), -1
    pieces.append(text[kept_to:])
    return "".join(pieces)

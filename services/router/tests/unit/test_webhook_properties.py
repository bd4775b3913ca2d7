"""Whatever Meta (or a proxy, or a bug) sends, reading a webhook never raises and never loses a neighbour.

The golden payloads of tests/data/webhooks/ are mutated at random — keys dropped, values of the wrong type,
junk, extra keys, wrong nesting, huge strings, unicode — and read the way the router reads them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from router.webhook.notification import (
    FieldUpdate,
    MessageUpdate,
    Notification,
    StatusUpdate,
    Unparsed,
    Update,
    updates,
)

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "data" / "webhooks"
FAST = settings(max_examples=200, deadline=None)
Path_ = tuple[str | int, ...]


def golden(name: str) -> dict[str, Any]:
    payload = json.loads((CORPUS / f"{name}.json").read_text())
    payload.pop("_source")
    payload.pop("_expect")
    return payload


GOLDEN = {p.stem: golden(p.stem) for p in sorted(CORPUS.glob("*.json"))}
BATCH = GOLDEN["batch_two_entries_two_changes"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["", "x" * 200_000, "🚚á\u200b" * 20_000, "\x00", "1e309", "-1", "9" * 5000, "null", "{}"]),
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*prefix, index))
    return found


def at(doc: Any, path: Path_) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutated(draw: st.DrawFn, payload: dict[str, Any], under: Path_ = ()) -> dict[str, Any]:
    """``payload`` with one to four random mutations, all inside ``under`` (the root stays an object)."""
    doc = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 4))):
        candidates = [p for p in paths(at(doc, under), under) if p]
        if not candidates:  # everything was dropped already
            break
        path = draw(st.sampled_from(candidates))
        parent, key, value = at(doc, path[:-1]), path[-1], at(doc, path)
        operation = draw(st.sampled_from(["drop", "junk", "extra", "nest", "stringify"]))
        if operation == "drop" and path != under:
            del parent[key]
        elif operation == "extra" and isinstance(value, dict):
            value[draw(st.text(max_size=8))] = draw(junk)
        elif operation == "nest":
            parent[key] = draw(st.sampled_from([[value], {"value": value}, {"data": [value]}]))
        elif operation == "stringify":
            parent[key] = json.dumps(value, ensure_ascii=False, allow_nan=True)
        else:
            parent[key] = draw(junk)
    return doc


def read_like_the_router(payload: dict[str, Any]) -> list[Update]:
    """Parse, walk, and touch every accessor the router and the field handlers use."""
    found = list(updates(Notification.model_validate(payload)))
    for update in found:
        if isinstance(update, MessageUpdate):
            message = update.message
            _ = (message.body, message.content, message.media, message.raw, message.from_, message.timestamp)
            _ = message.model_dump(by_alias=True, mode="json")
            _ = update.contact.profile.name if update.contact else None
        elif isinstance(update, StatusUpdate):
            status = update.status
            _ = (status.parsed_pricing, [(e.code, e.details) for e in status.errors], status.model_dump(mode="json"))
            _ = status.conversation.origin_type if status.conversation else None
        elif isinstance(update, FieldUpdate):
            _ = update.parsed.model_dump(mode="json") if update.parsed else None
        else:
            assert isinstance(update, Unparsed) and isinstance(update.payload, dict)
    return found


def summary(update: Update) -> tuple[Any, ...]:
    if isinstance(update, MessageUpdate):
        m = update.message
        return ("message", update.metadata.phone_number_id, m.id, m.from_, m.type, m.body, m.timestamp)
    if isinstance(update, StatusUpdate):
        return ("status", update.metadata.phone_number_id, update.status.id, update.status.status)
    if isinstance(update, FieldUpdate):
        return ("field", update.field, type(update.parsed).__name__)
    return ("unparsed", update.reason, update.phone_number_id)


def wamids(found: list[Update]) -> list[tuple[str, str, str]]:
    return [
        ("message", u.metadata.phone_number_id, u.message.id)
        if isinstance(u, MessageUpdate)
        else ("status", u.metadata.phone_number_id, u.status.id)
        for u in found
        if isinstance(u, MessageUpdate | StatusUpdate)
    ]


@FAST
@given(data=st.data(), name=st.sampled_from(sorted(GOLDEN)))
def test_no_mutation_of_a_golden_payload_makes_reading_raise(data: st.DataObject, name: str) -> None:
    payload = data.draw(mutated(GOLDEN[name]))
    read_like_the_router(payload)
    try:
        body = json.dumps(payload, allow_nan=False)
    except ValueError:  # NaN and infinities are not JSON: Meta cannot send them
        return
    list(updates(Notification.model_validate_json(body)))


def _items(kind: str) -> list[Path_]:
    """Where the batch's messages (or statuses) are: (entry, change, index) paths."""
    return [
        ("entry", e, "changes", c, "value", kind, i)
        for e, entry in enumerate(BATCH["entry"])
        for c, change in enumerate(entry["changes"])
        for i in range(len(change["value"].get(kind, [])))
    ]


def _ids_under(path: Path_) -> set[str]:
    """The wamids of the messages and statuses inside ``path`` of the batch."""
    return {
        at(BATCH, p)["id"] for p in paths(at(BATCH, path), path) if len(p) > 1 and p[-2] in ("messages", "statuses")
    }


@FAST
@given(data=st.data(), broken=st.sampled_from(_items("messages") + _items("statuses")))
def test_a_broken_message_or_status_never_hides_its_neighbours(data: st.DataObject, broken: Path_) -> None:
    before = read_like_the_router(BATCH)
    payload = data.draw(mutated(BATCH, under=broken))

    after = read_like_the_router(payload)

    assert len(after) == len(before), "every item still comes out, read or set aside as Unparsed"
    neighbours = [w for w in wamids(before) if w[2] not in _ids_under(broken)]
    assert [w for w in wamids(after) if w in neighbours] == neighbours


PIECES: list[Path_] = [("entry", e) for e in (0, 1)] + [("entry", e, "changes", c) for e in (0, 1) for c in (0, 1)]


@FAST
@given(data=st.data(), broken=st.sampled_from(PIECES))
def test_a_broken_entry_or_change_never_hides_the_others(data: st.DataObject, broken: Path_) -> None:
    payload = data.draw(mutated(BATCH, under=broken))

    after = read_like_the_router(payload)

    others = [w for w in wamids(read_like_the_router(BATCH)) if w[2] not in _ids_under(broken)]
    assert [w for w in wamids(after) if w in others] == others


@FAST
@given(data=st.data(), name=st.sampled_from(sorted(GOLDEN)))
def test_extra_unknown_keys_anywhere_change_nothing(data: st.DataObject, name: str) -> None:
    payload = copy.deepcopy(GOLDEN[name])
    objects = [p for p in paths(payload) if isinstance(at(payload, p), dict)]
    for path in data.draw(st.lists(st.sampled_from(objects), min_size=1, max_size=5)):
        at(payload, path)["x_future_" + data.draw(st.text(max_size=6))] = data.draw(junk)

    assert [summary(u) for u in read_like_the_router(payload)] == [
        summary(u) for u in read_like_the_router(GOLDEN[name])
    ]

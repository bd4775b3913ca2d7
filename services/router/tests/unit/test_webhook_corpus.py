"""Golden webhooks: every payload under tests/data/webhooks/ yields exactly the updates its ``_expect`` lists.

Each file is one shape of Meta's webhook (its ``_source`` says where the shape comes from) with an ``_expect``
list, one item per update in order: ``kind`` (message, status, field, unparsed) and dotted paths into the update
(``message.media.id``, ``status.errors.0.code``, ``parsed.__class__.__name__``) with the value each must have.
Datetimes are compared in ISO form; a path ending in ``~`` means "contains".
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from router.webhook.notification import FieldUpdate, MessageUpdate, Notification, StatusUpdate, Unparsed, updates

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "data" / "webhooks"
KINDS = {"message": MessageUpdate, "status": StatusUpdate, "field": FieldUpdate, "unparsed": Unparsed}


def resolve(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj[part]
        elif isinstance(obj, list):
            obj = obj[int(part)]
        else:
            obj = getattr(obj, part)
    return obj


def comparable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.stem)
def test_golden_webhook_yields_the_expected_updates(path: Path) -> None:
    payload = json.loads(path.read_text())
    payload.pop("_source")
    expected = payload.pop("_expect")

    found = list(updates(Notification.model_validate(payload)))

    assert [type(u).__name__ for u in found] == [KINDS[e["kind"]].__name__ for e in expected]
    for index, (update, expectation) in enumerate(zip(found, expected, strict=True)):
        for key, want in expectation.items():
            if key == "kind":
                continue
            if key.endswith("~"):
                got = resolve(update, key[:-1])
                assert want in got, f"update {index}: {key[:-1]} = {got!r} does not contain {want!r}"
            else:
                got = comparable(resolve(update, key))
                assert got == want, f"update {index}: {key} = {got!r}, expected {want!r}"


def test_the_corpus_covers_every_documented_shape() -> None:
    names = {p.stem for p in CORPUS.glob("*.json")}
    for kind in ("text", "image", "audio_voice", "video", "document", "sticker", "location", "contacts", "button"):
        assert f"message_{kind}" in names
    assert {"message_reply_with_context", "message_forwarded", "message_user_id_only_contact"} <= names
    assert {"status_sent_conversation_cbp", "status_delivered_pricing_pmp", "status_failed_with_errors"} <= names
    assert {"field_smb_message_echoes", "field_history", "field_unknown_future"} <= names

"""The published JSON Schemas are the broker API: they must match the models the code uses."""

from __future__ import annotations

import json
from pathlib import Path

from shared.contracts import directory
from shared.contracts.envelope import Envelope
from shared.contracts.examples import EXAMPLES
from shared.contracts.messages import BY_TYPE, MessageSent, SendMessage
from shared.contracts.schemas import schemas

DOCS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def test_committed_schemas_match_the_models() -> None:
    generated = schemas()
    committed = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in DOCS.glob("*.json")}
    assert committed == generated, "run `make schemas` and commit docs/schemas"


def test_every_message_type_is_unique_and_has_a_schema() -> None:
    assert sorted(f"{t}.json" for t in BY_TYPE) == sorted(schemas())


def test_internal_messages_are_strict() -> None:
    send = schemas()["message.send.json"]
    assert send["$defs"]["SendMessage"]["additionalProperties"] is False
    assert set(send["required"]) >= {"type", "correlation_id", "data"}


def test_every_directory_command_and_event_is_published_with_an_example_its_model_accepts() -> None:
    published = schemas()
    with_examples = (*directory.ALL, SendMessage, MessageSent)
    for model in with_examples:
        (example,) = published[f"{model.TYPE}.json"]["examples"]
        envelope = Envelope[model].model_validate(example)  # type: ignore[valid-type]
        assert envelope.type == model.TYPE and envelope.data.model_dump(mode="json") == example["data"]
    assert set(EXAMPLES) == {m.TYPE for m in with_examples}, "an example for each, and none for a model gone"

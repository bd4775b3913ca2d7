"""Reading a body into what PostgreSQL can store: the rules, without a database."""

from __future__ import annotations

import json

from router.reading import MAX_DEPTH, TOO_DEEP, read, storable


def test_nul_and_lone_surrogates_become_the_replacement_character_in_values_and_keys() -> None:
    value, changed = storable({"a\x00": ["x\ud800y", {"k": "\udfff"}], "fine": "ñandú 🚚"})
    assert changed
    assert value == {"a\ufffd": ["x\ufffdy", {"k": "\ufffd"}], "fine": "ñandú 🚚"}


def test_a_clean_value_is_returned_as_it_is() -> None:
    original = {"entry": [{"id": "1", "changes": [{"value": {"text": "Hola 🚚"}}]}]}
    value, changed = storable(original)
    assert not changed and value is original


def test_containers_below_the_depth_limit_become_a_placeholder() -> None:
    deep: object = "fondo"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    value, changed = storable({"x": deep})
    assert changed
    node = value["x"]
    for _ in range(MAX_DEPTH - 1):
        node = node[0]
    assert node == TOO_DEEP


def test_nesting_past_the_parser_s_limit_is_cut_and_the_rest_is_read() -> None:
    body = (
        '{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": []}], "junk": '
        + "[" * 20_000
        + "]" * 20_000
        + ', "after": "ok \\"[{"}'
    )
    reading = read(body)
    assert reading.notification is not None and reading.altered
    extra = reading.notification.model_extra or {}
    assert extra["after"] == 'ok "[{'


def test_an_ordinary_body_takes_the_fast_path_unaltered() -> None:
    body = json.dumps({"object": "whatsapp_business_account", "entry": []})
    reading = read(body)
    assert reading.notification is not None and not reading.altered


def test_a_body_that_is_not_json_keeps_its_text_with_the_reason() -> None:
    reading = read('{"entry": [\x00')
    assert reading.notification is None and reading.reason and reading.reason.startswith("not a Meta notification")
    assert reading.payload == '{"entry": [\ufffd'

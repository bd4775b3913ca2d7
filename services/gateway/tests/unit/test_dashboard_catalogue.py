"""The dashboard's words live in its catalogues only: Spanish and English have the same keys and placeholders,
every key the page and its scripts use exists, and no sentence is written into the HTML or the JavaScript."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest

STATIC = resources.files("gateway") / "static"
LANGUAGES = ("es", "en")
PLURAL_FORMS = {"one", "other"}  # what Intl.PluralRules gives for es and en
# Attributes a person reads or hears: each must come from the catalogue (data-i18n-<attribute>).
READ_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "aria-description"}
# Words in the scripts that are protocol, not UI: HTTP's header and scheme.
PROTOCOL_WORDS = {"Authorization", "Bearer"}


def catalogue(language: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STATIC / "i18n" / f"{language}.json").read_text("utf-8"))
    return loaded


def scripts() -> dict[str, str]:
    return {
        p.name: p.read_text("utf-8") for p in STATIC.iterdir() if re.fullmatch(r"dashboard(-[a-z0-9]+)?\.js", p.name)
    }


def placeholders(entry: Any) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for name in re.findall(r"\{(\w+)\}", text)}


def string_literals(source: str) -> list[str]:
    """The JavaScript's string and template literals (template substitutions dropped), comments skipped."""
    found: list[str] = []
    i = 0
    while i < len(source):
        two = source[i : i + 2]
        if two == "//":
            i = source.find("\n", i)
            i = len(source) if i < 0 else i
        elif two == "/*":
            i = source.index("*/", i) + 2
        elif source[i] in "'\"`":
            quote, i, text, depth = source[i], i + 1, [], 0
            while depth or source[i] != quote:
                if source[i] == "\\":
                    text.append(source[i + 1])
                    i += 2
                    continue
                if quote == "`" and source[i : i + 2] == "${":
                    depth += 1
                    i += 2
                    continue
                if depth and source[i] == "}":
                    depth -= 1
                elif not depth:
                    text.append(source[i])
                i += 1
            found.append("".join(text))
            i += 1
        else:
            i += 1
    return found


def is_prose(literal: str) -> bool:
    words = [w.strip(".,:;!?¿¡…") for w in literal.split()]
    alphabetic = [w for w in words if w.isalpha() and len(w) > 1]
    single_capitalised = len(words) == 1 and alphabetic and words[0].istitle() and words[0] not in PROTOCOL_WORDS
    return len(alphabetic) >= 2 or bool(single_capitalised)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.text: list[str] = []
        self.unlabelled: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, value in names.items():
            if name.startswith("data-i18n") and value:
                self.keys.add(value)
            if name in READ_ATTRIBUTES:
                self.unlabelled.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def page() -> _Page:
    parsed = _Page()
    parsed.feed((STATIC / "dashboard.html").read_text("utf-8"))
    return parsed


def test_spanish_and_english_have_the_same_keys_plurals_and_placeholders() -> None:
    es, en = catalogue("es"), catalogue("en")
    assert es.keys() == en.keys(), f"only in es: {es.keys() - en.keys()}; only in en: {en.keys() - es.keys()}"
    for key in es:
        assert isinstance(es[key], dict) == isinstance(en[key], dict), key
        if isinstance(es[key], dict):
            assert es[key].keys() == en[key].keys() == PLURAL_FORMS, key
        assert placeholders(es[key]) == placeholders(en[key]), key
        assert all(str(text).strip() for text in (es[key], en[key])), f"{key} is empty"


def test_the_page_carries_no_words_of_its_own_only_catalogue_keys() -> None:
    parsed = page()
    assert parsed.text == [], "text written into dashboard.html instead of a data-i18n key"
    assert parsed.unlabelled == [], "a read attribute without data-i18n-<attribute>"
    missing = parsed.keys - catalogue("es").keys()
    assert not missing, f"dashboard.html uses keys the catalogue lacks: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(scripts()))
def test_a_script_writes_no_sentence_and_asks_only_for_keys_that_exist(name: str) -> None:
    source = scripts()[name]
    prose = [literal for literal in string_literals(source) if is_prose(literal)]
    assert prose == [], f"{name} writes words instead of looking them up in the catalogue"
    keys = catalogue("es").keys()
    asked = set(re.findall(r"\b(?:t|plural)\(\s*\"([\w.]+)\"", source))
    assert asked <= keys, f"{name} asks for keys the catalogue lacks: {sorted(asked - keys)}"
    # Keys built at run time (`status.${n.status}`): their fixed part must begin real keys.
    for prefix in re.findall(r"\b(?:t|plural)\(\s*`([\w.]+)\$\{", source):
        assert any(key.startswith(prefix) for key in keys), f"{name}: no key starts with {prefix!r}"


def test_the_literal_finder_sees_sentences_and_skips_comments_and_protocol() -> None:
    source = 'const a = "Sign in now"; // Comment words here\nconst b = `Bearer ${key}`; /* More words */ x("Hola")'
    assert string_literals(source) == ["Sign in now", "Bearer ", "Hola"]
    assert [is_prose(s) for s in string_literals(source)] == [True, False, True]
    assert not is_prose("daily-title daily-summary") and not is_prose("li[data-wamid]")

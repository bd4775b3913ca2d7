"""A reply longer than WhatsApp's 4,096 characters goes as several messages, cut where a reader would pause."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from ai_worker.parts import MAX_TEXT_CHARS, split_reply, whatsapp_length


def gaps_are_whitespace(text: str, parts: list[str]) -> bool:
    """The parts are the text in order; only whitespace between them was dropped."""
    position = 0
    for part in parts:
        found = text.find(part, position)
        if found < 0 or text[position:found].strip():
            return False
        position = found + len(part)
    return not text[position:].strip()


def test_a_reply_within_the_limit_is_one_message_as_written() -> None:
    text = "Hola Ana, sí tenemos apartamentos en Chapinero."
    assert split_reply(text) == [text]
    assert split_reply("x" * MAX_TEXT_CHARS) == ["x" * MAX_TEXT_CHARS]


def test_a_long_reply_is_cut_between_paragraphs_when_it_can_be() -> None:
    first, second = "Primero. " * 300, "Segundo. " * 300  # each about 2,700 characters
    parts = split_reply(f"{first.strip()}\n\n{second.strip()}")
    assert parts == [first.strip(), second.strip()]


def test_without_paragraphs_it_is_cut_after_a_sentence_not_inside_one() -> None:
    text = " ".join(f"Frase número {i} del apartamento en Chapinero." for i in range(200))
    parts = split_reply(text)
    assert len(parts) == 3 and all(p.endswith(".") for p in parts)
    assert all(whatsapp_length(p) <= MAX_TEXT_CHARS for p in parts)
    assert " ".join(parts) == text


def test_without_sentences_it_is_cut_between_words() -> None:
    text = " ".join(["palabra"] * 1500)
    parts = split_reply(text)
    assert all(set(p.split()) == {"palabra"} for p in parts)
    assert " ".join(parts) == text


def test_one_word_longer_than_a_message_is_cut_inside_it_and_nothing_is_lost() -> None:
    text = "a" * 10_000
    parts = split_reply(text)
    assert [len(p) for p in parts] == [4096, 4096, 1808] and "".join(parts) == text


def test_characters_outside_the_basic_plane_count_double_and_are_never_split() -> None:
    text = "🏠" * 3000  # 6,000 UTF-16 code units
    parts = split_reply(text)
    assert [len(p) for p in parts] == [2048, 952] and "".join(parts) == text


def test_a_skin_tone_stays_with_its_emoji() -> None:
    text = "👍🏽" * 1500  # each is two code points, four UTF-16 units
    parts = split_reply(text)
    assert all(re.fullmatch("(👍🏽)+", p) for p in parts) and "".join(parts) == text


@given(
    st.lists(
        st.one_of(
            st.text(min_size=1, max_size=900),
            st.sampled_from([" ", "\n", "\n\n", ". ", "! ", "😀", "é", "\u200d"]),
        ),
        max_size=40,
    ),
    st.integers(min_value=8, max_value=600),
)
def test_every_part_fits_no_part_is_empty_and_nothing_but_whitespace_is_dropped(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    parts = split_reply(text, limit)
    assert all(p and p == p.strip() and whatsapp_length(p) <= limit for p in parts)
    assert gaps_are_whitespace(text, parts)
    assert bool(parts) == bool(text.strip())

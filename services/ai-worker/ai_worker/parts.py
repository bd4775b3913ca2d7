"""A reply as WhatsApp messages: Meta refuses a text body over 4,096 characters, and the customer gets nothing.

A longer reply is cut where a reader would pause — a paragraph, else a line, else a sentence, else a word — and
only inside a word when a single word is longer than a message. Only the whitespace at a cut is dropped.
"""

from __future__ import annotations

import re

# Cloud API reference, text messages: "body … Maximum 4096 characters".
MAX_TEXT_CHARS = 4096
# A preferred cut (paragraph, line, sentence) is taken only if it keeps at least this share of a message.
_FILL = 0.5
_BOUNDARIES = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…。！？])\s"), re.compile(r"\s"))


def whatsapp_length(text: str) -> int:
    """Meta does not say what a character is; UTF-16 code units (what its JavaScript-era limits count) are never
    fewer than code points, so a part within this length is within either reading."""
    return len(text.encode("utf-16-le")) // 2


def split_reply(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    if limit < 2:
        raise ValueError(f"a part limit of {limit} cannot hold a character outside the basic plane")
    parts: list[str] = []
    rest = text.strip()
    while whatsapp_length(rest) > limit:
        head, rest = _cut(rest, limit)
        parts.append(head)
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The longest good first part of ``text`` within ``limit``, and what follows it (both stripped)."""
    fits = _fitting_prefix(text, limit)
    window = text[: fits + 1]  # one more: whitespace just past the limit is a clean cut too
    for kind, boundary in enumerate(_BOUNDARIES):
        cuts = [m for m in boundary.finditer(window) if 0 < m.start() <= fits]
        if cuts and (kind == len(_BOUNDARIES) - 1 or cuts[-1].start() >= fits * _FILL):
            head = text[: cuts[-1].start()].rstrip()
            if head:
                return head, text[cuts[-1].end() :].lstrip()
    # One word longer than a message: cut inside it, but not before a combining mark, a skin tone or a joiner.
    while 1 < fits < len(text) and _joins_previous(text[fits]):
        fits -= 1
    return text[:fits], text[fits:].lstrip()


def _fitting_prefix(text: str, limit: int) -> int:
    """How many code points of ``text`` fit within ``limit``."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _joins_previous(char: str) -> bool:
    """Combining marks, variation selectors and the zero-width joiner belong to the character before them."""
    return char in "\u200d\ufe0f\ufe0e" or 0x0300 <= ord(char) <= 0x036F or 0x1F3FB <= ord(char) <= 0x1F3FF

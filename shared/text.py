"""Text as PostgreSQL can store it: ``text`` and ``jsonb`` hold neither NUL nor a lone surrogate, both of which a
JSON string (Meta's webhook, a model's answer, a CRM's command) may carry. They become U+FFFD, the replacement
character, rather than cost the message they are in."""

from __future__ import annotations

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    return UNSTORABLE.sub("\ufffd", text) if UNSTORABLE.search(text) else text

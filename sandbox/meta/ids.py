"""Identifiers shaped like Meta's, so parsers and column widths meet realistic values."""

from __future__ import annotations

import base64
import hashlib
import secrets


def new_wamid(wa_id: str, *, inbound: bool = False) -> str:
    """A WhatsApp message id: "wamid." + base64 of a small binary record naming the customer.

    Meta's wamids decode to a protobuf-like record holding the customer's number and a random hex id;
    copying that layout keeps them the same length and alphabet as real ones.
    """
    number = wa_id.encode()[:60]
    msg_id = secrets.token_hex(10 if inbound else 9).upper().encode()
    direction = b"\x12" if inbound else b"\x11"
    record = b"\x1c\x18" + bytes([len(number)]) + number + b"\x15\x02\x00" + direction
    record += b"\x18" + bytes([len(msg_id)]) + msg_id + b"\x00"
    return "wamid." + base64.b64encode(record).decode()


def new_media_id() -> str:
    """Media ids are Graph object ids: 15 or 16 decimal digits."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


def new_conversation_id() -> str:
    return secrets.token_hex(16)


def placeholder_waba_id(phone_number_id: str) -> str:
    """A stable, numeric WABA id for numbers nobody registered, derived so that it never changes."""
    digest = hashlib.sha256(phone_number_id.encode()).hexdigest()
    return str(100_000_000_000_000 + int(digest[:12], 16) % 900_000_000_000_000)

"""The load generators' one payload: a signed ~1 KB text webhook, as Meta sends one customer message.

``python bench/load/payload.py DIR SECRET`` writes DIR/webhook.json and prints the X-Hub-Signature-256 value for it;
every benchmark posts these same bytes (bench/load/signed_post.lua), so the servers compared get the same work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from pathlib import Path

PHONE_NUMBER_ID = "100000000000001"
WAMID = "wamid.HBgMNTczMDAxMTEyMjMzFQIAEhgUM0VCMEM0QkY3"


def webhook(phone_number_id: str = PHONE_NUMBER_ID, wamid: str = WAMID) -> bytes:
    """One customer text message in Meta's shape, about 1 KB with a realistic message text."""
    text = "Hola, quisiera saber si tienen disponibilidad para una visita el martes por la tarde. " * 8
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Ana María"}, "wa_id": "573001112233"}],
        "messages": [
            {
                "from": "573001112233",
                "id": wamid,
                "timestamp": "1764662400",
                "type": "text",
                "text": {"body": text.strip()},
            }
        ],
    }
    notification = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(notification, ensure_ascii=False, separators=(",", ":")).encode()


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def main() -> None:
    directory, secret = Path(sys.argv[1]), sys.argv[2]
    directory.mkdir(parents=True, exist_ok=True)
    body = webhook()
    (directory / "webhook.json").write_bytes(body)
    print(signature(body, secret))


if __name__ == "__main__":
    main()

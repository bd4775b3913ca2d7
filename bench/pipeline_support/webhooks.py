"""The customer messages a benchmark offers: bench/load/payload.py's one ~1 KB text webhook, addressed to a
tenant's number from a customer of its own (so conversations do not wait on each other), signed as Meta signs.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from load import payload

from tests.support.tenants import Tenant

from .scratch_platform import APP_SECRET


def customer(n: int) -> str:
    """The ``n``-th distinct customer: Colombian mobiles 57 310 xxx xxxx."""
    return f"57310{n:07d}"


def customer_webhook(tenant: Tenant, wa_id: str) -> bytes:
    """payload.webhook() for ``tenant``'s number, from ``wa_id``, sent now (an old timestamp is outside the 24-hour
    window, where only a template may answer)."""
    wamid = f"wamid.HBgM{uuid.uuid4().hex.upper()}"
    notification = json.loads(payload.webhook(tenant.phone_number_id, wamid))
    entry = notification["entry"][0]
    entry["id"] = tenant.waba_id
    value = entry["changes"][0]["value"]
    value["metadata"]["display_phone_number"] = tenant.phone_number.lstrip("+")
    value["contacts"][0]["wa_id"] = wa_id
    message = value["messages"][0]
    message["from"] = wa_id
    message["timestamp"] = str(int(time.time()))
    return json.dumps(notification, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Signed:
    wa_id: str
    body: bytes
    signature: str


def signed_webhooks(tenants: list[Tenant], first: int, count: int) -> list[Signed]:
    """``count`` webhooks from customers ``first`` … ``first + count - 1``, spread over the tenants' numbers."""
    out = []
    for n in range(first, first + count):
        wa_id = customer(n)
        body = customer_webhook(tenants[n % len(tenants)], wa_id)
        out.append(Signed(wa_id, body, payload.signature(body, APP_SECRET)))
    return out

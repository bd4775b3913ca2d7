"""Helpers for tests that drive the router's handlers directly, and for tests of other services that need the
router's record of a conversation: it is written by the router's own handlers, never by hand."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from router.__main__ import OUTBOX, ROLE, ROUTES, bootstrap
from router.deps import Deps
from router.handlers import record_outbound, route_webhook
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageSent, WebhookReceived
from shared.messaging.consumer import Consumer
from shared.messaging.runtime import Infrastructure, consuming
from tests.support.payloads import new_wamid, notification
from tests.support.tenants import Tenant


def raw_webhook(payload: Any, correlation_id: str = "corr-test") -> Envelope[WebhookReceived]:
    """A ``webhook.received`` envelope as the gateway publishes it."""
    return wrap(WebhookReceived(body=json.dumps(payload), received_at=datetime.now(UTC)), correlation_id=correlation_id)


async def customer_wrote(infra: Infrastructure, tenant: Tenant, message: dict[str, Any], *, name: str = "Ana") -> str:
    """Meta's webhook with this customer message (``tests.support.payloads``), routed by the router; its wamid."""
    payload = notification(tenant.phone_number_id, messages=[message], name=name)
    await route_webhook(raw_webhook(payload), Deps(infra.pool, infra.publisher))
    return str(message["id"])


async def business_app_sent(infra: Infrastructure, tenant: Tenant, echo: dict[str, Any]) -> str:
    """A coexistence echo (``smb_message_echoes``: the business wrote from the WhatsApp Business app; ``echo`` is
    one of Meta's ``message_echoes`` without its ``from``), routed by the router; its wamid."""
    business = tenant.phone_number.lstrip("+")
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business, "phone_number_id": tenant.phone_number_id},
        "message_echoes": [{"from": business, **echo}],
    }
    change = {"field": "smb_message_echoes", "value": value}
    payload = {"object": "whatsapp_business_account", "entry": [{"id": tenant.waba_id, "changes": [change]}]}
    await route_webhook(raw_webhook(payload), Deps(infra.pool, infra.publisher))
    return str(echo["id"])


async def meta_reported(infra: Infrastructure, tenant: Tenant, *statuses: dict[str, Any]) -> None:
    """Meta's webhook with these statuses of the business's messages (``tests.support.payloads.status``), routed
    by the router: its record of what Meta says left, was delivered or read."""
    payload = notification(tenant.phone_number_id, statuses=list(statuses))
    await route_webhook(raw_webhook(payload), Deps(infra.pool, infra.publisher))


def message_sent(
    tenant: Tenant,
    wamid: str | None = None,
    *,
    to: str = "573001112233",
    text: str = "Con gusto",
    at: datetime | None = None,
    correlation_id: str = "corr-test",
) -> Envelope[MessageSent]:
    """The sender's ``message.sent`` for a reply of ``tenant``'s number (a new wamid unless given)."""
    sent = MessageSent(
        client_id=tenant.client_id,
        send_id=uuid.uuid4(),
        phone_number_id=tenant.phone_number_id,
        to=to,
        wamid=wamid or new_wamid(),
        text=text,
        sent_at=at or datetime.now(UTC),
    )
    return wrap(sent, correlation_id=correlation_id, tenant_id=tenant.client_id)


async def business_wrote(infra: Infrastructure, tenant: Tenant, wa_id: str, text: str, at: datetime) -> str:
    """A reply the sender sent to ``wa_id``, as the router records it from ``message.sent``; its wamid."""
    sent = message_sent(tenant, to=wa_id, text=text, at=at).data
    await reply_recorded(infra, sent)
    return sent.wamid


async def reply_recorded(infra: Infrastructure, sent: MessageSent) -> None:
    """The sender's ``message.sent`` (a reply it sent, with its ``send_id``), recorded by the router."""
    await record_outbound(
        wrap(sent, correlation_id="corr-test", tenant_id=sent.client_id), Deps(infra.pool, infra.publisher)
    )


def image_message(
    media_id: str, *, sender: str, mime_type: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    """A customer's photo as Meta sends it (no caption)."""
    image = {"id": media_id} if mime_type is None else {"id": media_id, "mime_type": mime_type}
    return {
        "from": sender,
        "id": new_wamid(),
        "timestamp": str(timestamp or int(datetime.now(UTC).timestamp())),
        "type": "image",
        "image": image,
    }


@asynccontextmanager
async def served_router(infra: Infrastructure) -> AsyncIterator[Consumer[Deps]]:
    """The router as ``router/__main__.py`` serves it: its own bootstrap (the outbox relay running), the batches of
    what the broker delivered carried out in one transaction each, their events through ``router.outbox``."""
    async with bootstrap(infra) as deps:  # type: ignore[arg-type]
        async with consuming(infra, ROLE, ROUTES, deps, batch=True, outbox=OUTBOX) as consumer:
            yield consumer

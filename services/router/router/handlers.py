"""Router handlers: a raw webhook becomes one stored record and one event per message and status."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from router import store
from router.deps import Deps
from router.fields import route_field
from shared.envelope import Envelope, derived_id, wrap
from shared.logging import bind_context, get_logger
from shared.messages import (
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    MetaConversation,
    MetaError,
    MetaPricing,
    WebhookParked,
    WebhookReceived,
)
from shared.webhook import FieldUpdate, MessageUpdate, Notification, StatusUpdate, Unparsed, Update, updates

log = get_logger(__name__)


async def route_webhook(envelope: Envelope[WebhookReceived], deps: Deps) -> None:
    if envelope.data.body_base64 is not None:
        await park(Unparsed("body is not UTF-8", {"base64": envelope.data.body_base64}), envelope, deps)
        return
    try:
        notification = Notification.model_validate_json(envelope.data.body)
    except ValidationError as exc:
        await park(
            Unparsed(f"not a Meta notification: {exc.errors()[0]['msg']}", {"raw": envelope.data.body}), envelope, deps
        )
        return
    # Meta's timestamp order, so that a customer's burst is stored and answered in the order it was written.
    ordered = sorted(updates(notification), key=_order_key)
    for update in ordered:
        if isinstance(update, MessageUpdate):
            await record_inbound(update, envelope, deps)
        elif isinstance(update, StatusUpdate):
            await record_status(update, envelope, deps)
        elif isinstance(update, FieldUpdate):
            await route_field(update, envelope, deps)
        else:
            await park(update, envelope, deps)


def _order_key(update: Update) -> tuple[int, float]:
    if isinstance(update, MessageUpdate):
        return (0, update.message.timestamp.timestamp())
    if isinstance(update, StatusUpdate):
        return (1, update.status.timestamp.timestamp())
    return (2, 0.0)


async def record_inbound(update: MessageUpdate, cause: Envelope[WebhookReceived], deps: Deps) -> None:
    message, metadata = update.message, update.metadata
    async with deps.pool.acquire() as conn, conn.transaction():
        client_id = await store.client_for_number(conn, metadata.phone_number_id)
        if client_id is None:
            return await park(
                Unparsed(
                    "unknown phone_number_id", message.model_dump(by_alias=True, mode="json"), metadata.phone_number_id
                ),
                cause,
                deps,
            )
        with bind_context(tenant_id=client_id):
            if not await store.insert_inbound(conn, client_id, update):
                log.info("message.duplicate", wamid=message.id)
                return
            content = store.content_of(message)
            event = MessageReceived(
                client_id=client_id,
                phone_number_id=metadata.phone_number_id,
                display_phone_number=metadata.display_phone_number,
                wamid=message.id,
                wa_id=message.from_,
                user_id=update.contact.user_id if update.contact else None,
                profile_name=update.contact.profile.name if update.contact else None,
                message_type=message.type,
                text=message.body,
                media=store.media_of(message.type, content),
                content=content,
                timestamp=message.timestamp,
                context_wamid=message.context.id if message.context else None,
                forwarded=bool(message.context and (message.context.forwarded or message.context.frequently_forwarded)),
            )
            # Published before the commit: if the publish fails the insert rolls back and the webhook is retried;
            # if the commit fails after it, the redelivered event carries the same id and consumers drop it.
            await deps.publisher.publish(
                wrap(
                    event,
                    id=derived_id(event.TYPE, message.id),
                    tenant_id=client_id,
                    correlation_id=cause.correlation_id,
                )
            )
            log.info("message.received", wamid=message.id, message_type=message.type)


async def record_status(update: StatusUpdate, cause: Envelope[WebhookReceived], deps: Deps) -> None:
    status, pnid = update.status, update.metadata.phone_number_id
    async with deps.pool.acquire() as conn, conn.transaction():
        client_id = await store.client_for_number(conn, pnid)
        if client_id is None:
            return await park(Unparsed("unknown phone_number_id", status.model_dump(mode="json"), pnid), cause, deps)
        if not await store.insert_status(conn, client_id, pnid, status):
            return
        conversation = status.conversation
        event = MessageStatusChanged(
            client_id=client_id,
            phone_number_id=pnid,
            wamid=status.id,
            status=status.status,
            recipient_id=status.recipient_id,
            timestamp=status.timestamp,
            conversation=MetaConversation(
                id=conversation.id,
                origin_type=conversation.origin.get("type"),
                expiration_timestamp=conversation.expiration_timestamp,
            )
            if conversation
            else None,
            pricing=MetaPricing.model_validate(status.pricing) if status.pricing else None,
            errors=tuple(
                MetaError(code=e.code, title=e.title, message=e.message, details=e.error_data.get("details"))
                for e in status.errors
            ),
        )
        await deps.publisher.publish(
            wrap(
                event,
                id=derived_id(event.TYPE, status.id, status.status),
                tenant_id=client_id,
                correlation_id=cause.correlation_id,
            )
        )


async def park(item: Unparsed, cause: Envelope[Any], deps: Deps) -> None:
    """Keep what cannot be routed, once, with the reason; tell the CRM; never loop on it."""
    payload_json = json.dumps(item.payload, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(payload_json.encode()).hexdigest()
    async with deps.pool.acquire() as conn, conn.transaction():
        if not await store.insert_parked(conn, digest, item):
            return
        event = WebhookParked(reason=item.reason[:500], phone_number_id=item.phone_number_id)
        await deps.publisher.publish(
            wrap(event, id=derived_id(event.TYPE, digest), correlation_id=cause.correlation_id)
        )
    log.warning("webhook.parked", reason=item.reason[:200], phone_number_id=item.phone_number_id)


async def record_outbound(envelope: Envelope[MessageSent], deps: Deps) -> None:
    """Keep the business's side of the conversation beside the customer's (the AI's history)."""
    async with deps.pool.acquire() as conn:
        await store.insert_outbound(conn, envelope.data)

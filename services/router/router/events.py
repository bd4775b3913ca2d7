"""The events the router announces for what it stored: ``message.received`` for a new customer message and
``message.status`` for a new status of the business's, each with an id derived from Meta's, so a redelivered
webhook announces nothing new."""

from __future__ import annotations

import uuid
from typing import Any

from router.store.messages import content_of, media_of
from router.webhook.notification import MessageUpdate, StatusUpdate
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MessageReceived, MessageStatusChanged, MetaConversation, MetaError, MetaPricing


def message_received(update: MessageUpdate, client_id: uuid.UUID, cause: Envelope[Any]) -> Envelope[MessageReceived]:
    message, metadata, contact = update.message, update.metadata, update.contact
    content = content_of(message)
    event = MessageReceived(
        client_id=client_id,
        phone_number_id=metadata.phone_number_id,
        display_phone_number=metadata.display_phone_number,
        wamid=message.id,
        wa_id=message.from_,
        user_id=contact.user_id if contact else None,
        profile_name=contact.profile.name if contact else None,
        message_type=message.type,
        text=message.body,
        media=media_of(message),
        content=content,
        timestamp=message.timestamp,
        context_wamid=message.context.id if message.context else None,
        forwarded=bool(message.context and (message.context.forwarded or message.context.frequently_forwarded)),
    )
    return wrap(event, id=derived_id(event.TYPE, message.id), tenant_id=client_id, correlation_id=cause.correlation_id)


def status_changed(update: StatusUpdate, client_id: uuid.UUID, cause: Envelope[Any]) -> Envelope[MessageStatusChanged]:
    status, conversation = update.status, update.status.conversation
    event = MessageStatusChanged(
        client_id=client_id,
        phone_number_id=update.metadata.phone_number_id,
        wamid=status.id,
        status=status.status,
        recipient_id=status.recipient_id,
        timestamp=status.timestamp,
        conversation=MetaConversation(
            id=conversation.id,
            origin_type=conversation.origin_type,
            expiration_timestamp=conversation.expiration_timestamp,
        )
        if conversation
        else None,
        pricing=MetaPricing.model_validate(pricing.model_dump()) if (pricing := status.parsed_pricing) else None,
        errors=tuple(
            MetaError(code=e.code, title=e.title, message=e.message, details=e.details) for e in status.errors
        ),
    )
    return wrap(
        event,
        id=derived_id(event.TYPE, status.id, status.status),
        tenant_id=client_id,
        correlation_id=cause.correlation_id,
    )

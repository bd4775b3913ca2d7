"""wamux's public vocabulary on the broker: every command and event, one screen.

The CRM publishes commands and binds its own queues to events, so these names and shapes are an API:
add optional fields freely, never rename or remove one without a new ``version``.
``python -m shared.contracts.schemas`` writes the JSON Schema of each to ``docs/schemas/``.
Over 200 lines on purpose: the conversation's whole vocabulary read top to bottom, one small model after another.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts import directory, meta_events
from shared.contracts.envelope import Command, Event, Payload


class MetaConversation(BaseModel):
    """Meta's own ``conversation`` block on a status webhook, kept to reconcile against our count."""

    model_config = ConfigDict(frozen=True)
    id: str | None = None
    origin_type: str | None = None
    expiration_timestamp: datetime | None = None


class MetaPricing(BaseModel):
    model_config = ConfigDict(frozen=True)
    billable: bool | None = None
    pricing_model: str | None = None
    category: str | None = None
    type: str | None = None


class MetaError(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: int | None = None
    title: str | None = None
    message: str | None = None
    details: str | None = None


class WebhookReceived(Event):
    """A signature-checked POST from Meta, exactly as received (the router parses it)."""

    TYPE: ClassVar[str] = "webhook.received"
    body: str
    received_at: datetime
    # Set only when the signed bytes were not UTF-8: the exact bytes, so that nothing is lost.
    body_base64: str | None = None


class WebhookParked(Event):
    """Part of a webhook that could not be routed (unknown number, unparseable); kept by the router."""

    TYPE: ClassVar[str] = "webhook.parked"
    reason: str
    phone_number_id: str | None = None


class MediaRef(BaseModel):
    """A customer's media as Meta announces it: fetch the bytes with ``GET /{id}`` then its URL."""

    model_config = ConfigDict(frozen=True)
    id: str
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None


class MessageReceived(Event):
    """A customer wrote to a client's number. ``text`` is what a person would read (body, caption, button
    title, …); ``content`` is Meta's object for the type, whole."""

    TYPE: ClassVar[str] = "message.received"
    client_id: uuid.UUID
    phone_number_id: str
    display_phone_number: str
    wamid: str
    wa_id: str
    user_id: str | None = None
    profile_name: str | None = None
    message_type: str
    text: str | None = None
    media: MediaRef | None = None
    content: dict[str, Any] | None = None
    timestamp: datetime
    context_wamid: str | None = None
    forwarded: bool = False


class MessageStatusChanged(Event):
    TYPE: ClassVar[str] = "message.status"
    client_id: uuid.UUID
    phone_number_id: str
    wamid: str
    status: Literal["sent", "delivered", "read", "failed", "deleted"] | str
    recipient_id: str
    timestamp: datetime
    conversation: MetaConversation | None = None
    pricing: MetaPricing | None = None
    errors: tuple[MetaError, ...] = ()


class SentBy(BaseModel):
    """Who wrote a message a CRM sends: ``person``, an agent typing in the CRM (``name`` as the dashboard shows it,
    e.g. "Laura"), or ``system``, one of the CRM's automated flows (``name`` optional, e.g. "Recordatorio de cita")."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["person", "system"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] | None = None


class SendMessage(Command):
    """Send a free-form text to a customer. The envelope id is the idempotency key of the send."""

    TYPE: ClassVar[str] = "message.send"
    client_id: uuid.UUID
    phone_number_id: str
    to: str
    text: str
    reply_to_wamid: str | None = None
    # When the customer last wrote: a free-form message is only allowed within 24 h of it.
    customer_last_message_at: datetime | None = None
    # The customer messages (wamids, oldest first) this reply answers: a burst is answered once, by one reply.
    answers: tuple[str, ...] = ()
    # A reply too long for one WhatsApp message goes as parts: each waits until the send before it has left.
    after_send_id: uuid.UUID | None = None
    sent_by: SentBy | None = Field(
        default=None,
        description="Who wrote it, when a CRM sends it: the dashboard shows a person's name as the message's "
        "author, and anything else as the CRM's (the ai-worker leaves it out: its replies are the AI's).",
    )


class MarkRead(Command):
    """Show the customer their message was read and, while a reply is being written, that we are typing."""

    TYPE: ClassVar[str] = "message.mark_read"
    client_id: uuid.UUID
    phone_number_id: str
    wamid: str
    typing: bool = True


class MessageSent(Event):
    TYPE: ClassVar[str] = "message.sent"
    client_id: uuid.UUID
    send_id: uuid.UUID
    phone_number_id: str
    to: str
    wamid: str
    text: str
    reply_to_wamid: str | None = None
    sent_at: datetime
    sent_by: SentBy | None = None  # the command's, as it was given


class MessageFailed(Event):
    TYPE: ClassVar[str] = "message.failed"
    client_id: uuid.UUID
    send_id: uuid.UUID
    phone_number_id: str
    to: str
    reply_to_wamid: str | None = None
    error_code: int | None = None
    error_title: str
    error_details: str | None = None


class ReplyPaused(Event):
    """The AI did not answer a customer because of the client's quota policy (``pause_ai``)."""

    TYPE: ClassVar[str] = "reply.paused"
    client_id: uuid.UUID
    phone_number_id: str
    wa_id: str
    wamid: str
    reason: str


class ConversationOpened(Event):
    """A 24-hour conversation window was opened by a business message and counted against the quota."""

    TYPE: ClassVar[str] = "conversation.opened"
    client_id: uuid.UUID
    phone_number_id: str
    wa_id: str
    opened_at: datetime
    expires_at: datetime
    month: date
    free: bool
    free_remaining: int


class QuotaExhausted(Event):
    TYPE: ClassVar[str] = "quota.exhausted"
    client_id: uuid.UUID
    phone_number_id: str
    month: date
    free_quota: int
    policy: Literal["count_paid", "pause_ai"]


ALL: tuple[type[Payload], ...] = (
    WebhookReceived,
    WebhookParked,
    MessageReceived,
    MessageStatusChanged,
    SendMessage,
    MarkRead,
    MessageSent,
    MessageFailed,
    ReplyPaused,
    ConversationOpened,
    QuotaExhausted,
    *meta_events.ALL,
    *directory.ALL,
)
BY_TYPE: dict[str, type[Payload]] = {m.TYPE: m for m in ALL}

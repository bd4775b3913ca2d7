"""Coexistence fields: a business that also answers from the WhatsApp Business app on the same number.

``smb_message_echoes`` carries what the business sent from the app (so the conversation has both sides),
``history`` up to 180 days of its earlier chats (in phases 0–2 and chunks, or a declined-sharing error),
``smb_app_state_sync`` the app's address book. Shapes from Meta's webhooks reference for each field.
"""

from __future__ import annotations

from pydantic import Field

from router.webhook.content import WebhookError
from router.webhook.messages import InboundMessage
from router.webhook.model import Lenient, LenientStr, Metadata, MetaModel, Readable, UnixTime

HISTORY_SHARING_DECLINED = 2593109  # Meta's error code when the business declines to share its chat history


class MessageEcho(InboundMessage):
    """A message the business sent from the app: ``from`` is the business's number, ``to`` the customer's."""

    to: Lenient[str] = None
    to_user_id: Lenient[str] = None


class MessageEchoes(MetaModel):
    messaging_product: Lenient[str] = None
    metadata: Lenient[Metadata] = None
    message_echoes: Readable[MessageEcho] = Field(default_factory=list)


class HistoryContext(MetaModel):
    status: Lenient[str] = None  # what became of the message: SENT, DELIVERED, READ, ERROR, PLAYED, PENDING


class HistoryMessage(InboundMessage):
    to: Lenient[str] = None
    history_context: Lenient[HistoryContext] = None


class HistoryThread(MetaModel):
    id: LenientStr = ""  # the customer's number: one thread per chat
    messages: Readable[HistoryMessage] = Field(default_factory=list)


class HistoryProgress(MetaModel):
    phase: Lenient[int] = None  # 0: day 0–1, 1: day 1–90, 2: day 90–180
    chunk_order: Lenient[int] = None  # chunks may arrive out of order
    progress: Lenient[int] = None  # percent of the whole sync; 100 when complete


class HistoryChunk(MetaModel):
    metadata: Lenient[HistoryProgress] = None
    threads: Readable[HistoryThread] = Field(default_factory=list)
    errors: Readable[WebhookError] = Field(default_factory=list)


class History(MetaModel):
    messaging_product: Lenient[str] = None
    metadata: Lenient[Metadata] = None
    history: Readable[HistoryChunk] = Field(default_factory=list)

    @property
    def declined(self) -> bool:
        return any(e.code == HISTORY_SHARING_DECLINED for chunk in self.history for e in chunk.errors)


class AppContact(MetaModel):
    full_name: Lenient[str] = None  # absent when the contact was removed
    first_name: Lenient[str] = None
    phone_number: Lenient[str] = None


class StateSyncMetadata(MetaModel):
    timestamp: Lenient[UnixTime] = None


class StateSync(MetaModel):
    type: Lenient[str] = None  # "contact"
    contact: Lenient[AppContact] = None
    action: Lenient[str] = None  # add (added or edited) or remove
    metadata: Lenient[StateSyncMetadata] = None


class SmbAppStateSync(MetaModel):
    messaging_product: Lenient[str] = None
    metadata: Lenient[Metadata] = None
    state_sync: Readable[StateSync] = Field(default_factory=list)

"""The answers of the conversations API (gateway/conversations.py), as models: ``GET /api/openapi.json`` documents
the very fields the handlers fill."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from gateway import conversation_content as content


class Conversation(BaseModel):
    phone_number_id: str
    phone_number: str | None  # the business number it is on, E.164
    display_name: str | None
    wa_id: str
    profile_name: str | None
    messages: int
    messages_in: int
    last_message_at: datetime
    last_body: str | None
    last_direction: str
    preview: content.ConversationPreview | None  # the customer's newest message, whoever wrote after it


class ConversationsPage(BaseModel):
    conversations: list[Conversation]
    next_before: str | None


class Message(BaseModel):
    wamid: str
    direction: str
    author: content.Author
    # The name the CRM gave (message.send's ``sent_by``): the person who wrote it, or the CRM flow that sent it.
    author_name: str | None = None
    type: str
    message_type: str  # the same as ``type`` (the first version's name)
    body: str | None
    sent_at: datetime
    status: str | None  # outbound: sent, delivered, read or failed (Meta's furthest); null until Meta says
    reply_to: str | None  # the wamid it answers or reacts to
    media_id: str | None
    media_mime_type: str | None
    text: str | None = None
    media: content.MessageMedia | None = None
    location: content.MessageLocation | None = None
    reaction: content.MessageReaction | None = None
    interactive: content.InteractiveReply | None = None
    template: content.MessageTemplate | None = None
    contacts: list[content.MessageContact] | None = None


class MessagesPage(BaseModel):
    messages: list[Message]
    next_before: str | None

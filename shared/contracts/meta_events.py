"""Events for Meta's webhook fields other than ``messages``: the WABA, its templates and its numbers.

One event per field, named in wamux's past-tense style, carrying Meta's value whole (``value``) plus the few
keys a consumer routes on. The CRM binds to ``account.#``, ``template.#``, ``number.#``; billing may too.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from shared.contracts.envelope import Event


class MetaFieldEvent(Event):
    waba_id: str
    field: str
    # Meta's own event name inside the value, when it has one (VERIFIED_ACCOUNT, APPROVED, FLAGGED, …).
    event: str | None = None
    client_id: uuid.UUID | None = None
    phone_number_id: str | None = None
    value: dict[str, Any]


class AccountUpdated(MetaFieldEvent):
    TYPE: ClassVar[str] = "account.updated"


class AccountReviewUpdated(MetaFieldEvent):
    TYPE: ClassVar[str] = "account.review_updated"


class AccountAlerted(MetaFieldEvent):
    TYPE: ClassVar[str] = "account.alerted"


class AccountCapabilityUpdated(MetaFieldEvent):
    TYPE: ClassVar[str] = "account.capability_updated"


class AccountSecurityChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "account.security_changed"


class TemplateStatusChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "template.status_changed"


class TemplateQualityChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "template.quality_changed"


class TemplateCategoryChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "template.category_changed"


class NumberQualityChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "number.quality_changed"


class NumberNameChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "number.name_changed"


class MessageEchoed(MetaFieldEvent):
    """Coexistence: the business answered from the WhatsApp Business app (``smb_message_echoes``)."""

    TYPE: ClassVar[str] = "message.echoed"


class HistorySynced(MetaFieldEvent):
    """Coexistence: past chats shared when the number was onboarded (``history``, ``smb_app_state_sync``)."""

    TYPE: ClassVar[str] = "history.synced"


class FlowEvent(MetaFieldEvent):
    TYPE: ClassVar[str] = "flow.event"


class ContactPreferencesChanged(MetaFieldEvent):
    TYPE: ClassVar[str] = "contact.preferences_changed"


class MetaFieldReceived(MetaFieldEvent):
    """A field wamux does not know yet: kept and published as is, never dropped."""

    TYPE: ClassVar[str] = "meta.field_received"


BY_FIELD: dict[str, type[MetaFieldEvent]] = {
    "account_update": AccountUpdated,
    "account_review_update": AccountReviewUpdated,
    "account_alerts": AccountAlerted,
    "business_capability_update": AccountCapabilityUpdated,
    "security": AccountSecurityChanged,
    "message_template_status_update": TemplateStatusChanged,
    "message_template_quality_update": TemplateQualityChanged,
    "template_category_update": TemplateCategoryChanged,
    "phone_number_quality_update": NumberQualityChanged,
    "phone_number_name_update": NumberNameChanged,
    "smb_message_echoes": MessageEchoed,
    "history": HistorySynced,
    "smb_app_state_sync": HistorySynced,
    "flows": FlowEvent,
    "user_preferences": ContactPreferencesChanged,
}
ALL: tuple[type[MetaFieldEvent], ...] = (*dict.fromkeys(BY_FIELD.values()), MetaFieldReceived)


def event_for(field: str) -> type[MetaFieldEvent]:
    return BY_FIELD.get(field, MetaFieldReceived)

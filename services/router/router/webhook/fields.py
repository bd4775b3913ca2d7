"""The value of each webhook ``field`` other than ``messages``, typed (Meta's webhooks reference, one per field).

:func:`parse_field` reads a :class:`~router.webhook.notification.FieldUpdate`'s raw value into the model of its
field, or ``None`` for a field not known here — the raw value stays the source of truth either way.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from router.webhook.coexistence import History, MessageEchoes, SmbAppStateSync
from router.webhook.messages import Contact
from router.webhook.model import Lenient, LenientStr, Metadata, MetaModel, Readable, UnixTime


class BanInfo(MetaModel):
    waba_ban_state: Lenient[list[str] | str] = None  # SCHEDULE_FOR_DISABLE, DISABLE, REINSTATE
    waba_ban_date: Lenient[str] = None


class RestrictionInfo(MetaModel):
    restriction_type: Lenient[str] = None  # RESTRICTED_ADD_PHONE_NUMBER_ACTION, RESTRICTED_CUSTOMER_INITIATED_…
    expiration: Lenient[UnixTime] = None


class AccountUpdate(MetaModel):
    event: LenientStr = ""  # VERIFIED_ACCOUNT, DISABLED_UPDATE, ACCOUNT_VIOLATION, PARTNER_ADDED, …
    phone_number: Lenient[str] = None
    ban_info: Lenient[BanInfo] = None
    violation_info: Lenient[dict[str, Any]] = None  # {"violation_type": …}
    restriction_info: Readable[RestrictionInfo] = Field(default_factory=list)
    waba_info: Lenient[dict[str, Any]] = None  # PARTNER_ADDED/REMOVED: waba_id, owner_business_id, …


class TemplateRef(MetaModel):
    message_template_id: Lenient[str] = None
    message_template_name: Lenient[str] = None
    message_template_language: Lenient[str] = None


class MessageTemplateStatusUpdate(TemplateRef):
    event: LenientStr = ""  # APPROVED, REJECTED, PAUSED, DISABLED, PENDING_DELETION, …
    reason: Lenient[str] = None
    message_template_category: Lenient[str] = None
    other_info: Lenient[dict[str, Any]] = None  # PAUSED/DISABLED: title, description


class MessageTemplateQualityUpdate(TemplateRef):
    previous_quality_score: Lenient[str] = None  # GREEN, YELLOW, RED, UNKNOWN
    new_quality_score: Lenient[str] = None


class TemplateCategoryUpdate(TemplateRef):
    previous_category: Lenient[str] = None
    new_category: Lenient[str] = None
    correct_category: Lenient[str] = None  # sent ahead of a recategorisation that has not happened yet


class PhoneNumberQualityUpdate(MetaModel):
    display_phone_number: Lenient[str] = None
    event: LenientStr = ""  # FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE, ONBOARDING, THROUGHPUT_UPGRADE
    current_limit: Lenient[str] = None  # TIER_250 … TIER_UNLIMITED
    old_limit: Lenient[str] = None
    max_daily_conversations_per_business: Lenient[str] = None


class PhoneNumberNameUpdate(MetaModel):
    display_phone_number: Lenient[str] = None
    decision: LenientStr = ""  # APPROVED, REJECTED, DEFERRED
    requested_verified_name: Lenient[str] = None
    rejection_reason: Lenient[str] = None


class BusinessCapabilityUpdate(MetaModel):
    max_daily_conversation_per_phone: Lenient[int] = None
    max_phone_numbers_per_business: Lenient[int] = None
    max_phone_numbers_per_waba: Lenient[int] = None
    max_daily_conversations_per_business: Lenient[str] = None


class AccountReviewUpdate(MetaModel):
    decision: LenientStr = ""  # APPROVED, REJECTED, PENDING, DEFERRED


class AlertInfo(MetaModel):
    alert_severity: Lenient[str] = None  # CRITICAL, WARNING, INFORMATIONAL
    alert_status: Lenient[str] = None
    alert_type: Lenient[str] = None  # OBA_APPROVED, INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED, …
    alert_description: Lenient[str] = None


class AccountAlerts(MetaModel):
    entity_type: Lenient[str] = None  # BUSINESS, PHONE_NUMBER, …
    entity_id: Lenient[str] = None
    alert_info: Lenient[AlertInfo] = None


class Security(MetaModel):
    display_phone_number: Lenient[str] = None
    event: LenientStr = ""  # PIN_CHANGED, PIN_RESET_REQUEST, PIN_RESET_SUCCESS, …
    requester: Lenient[str] = None


class Flows(MetaModel):
    event: LenientStr = ""  # FLOW_STATUS_CHANGE, CLIENT_ERROR_RATE, ENDPOINT_ERROR_RATE, ENDPOINT_LATENCY, …
    message: Lenient[str] = None
    flow_id: Lenient[str] = None
    old_status: Lenient[str] = None
    new_status: Lenient[str] = None
    alert_state: Lenient[str] = None  # ACTIVATED or DEACTIVATED, for the rate and latency alerts
    threshold: Lenient[float] = None


class UserPreference(MetaModel):
    wa_id: Lenient[str] = None
    user_id: Lenient[str] = None
    detail: Lenient[str] = None
    category: Lenient[str] = None  # marketing_messages
    value: Lenient[str] = None  # stop or resume
    timestamp: Lenient[UnixTime] = None


class UserPreferences(MetaModel):
    messaging_product: Lenient[str] = None
    metadata: Lenient[Metadata] = None
    contacts: Readable[Contact] = Field(default_factory=list)
    user_preferences: Readable[UserPreference] = Field(default_factory=list)


FIELD_VALUES: dict[str, type[MetaModel]] = {
    "account_update": AccountUpdate,
    "message_template_status_update": MessageTemplateStatusUpdate,
    "message_template_quality_update": MessageTemplateQualityUpdate,
    "template_category_update": TemplateCategoryUpdate,
    "phone_number_quality_update": PhoneNumberQualityUpdate,
    "phone_number_name_update": PhoneNumberNameUpdate,
    "business_capability_update": BusinessCapabilityUpdate,
    "account_review_update": AccountReviewUpdate,
    "account_alerts": AccountAlerts,
    "security": Security,
    "flows": Flows,
    "user_preferences": UserPreferences,
    "smb_message_echoes": MessageEchoes,
    "history": History,
    "smb_app_state_sync": SmbAppStateSync,
}


def parse_field(field: str, value: Any) -> MetaModel | None:
    """The typed value of a non-message field; ``None`` for a field not known here or a value not an object."""
    model = FIELD_VALUES.get(field)
    if model is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError:
        return None

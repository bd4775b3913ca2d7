"""What became of a message the business sent (``value.statuses[]`` of the messages field).

``status`` is one of sent, delivered, read, failed, deleted — or a value Meta adds later, kept as it came.
``conversation`` and ``pricing`` are Meta's own billing facts (conversation-based until 2025-07-01, per
message after), recorded beside wamux's count to reconcile against it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from router.webhook.content import WebhookError
from router.webhook.model import Lenient, LenientDict, LenientStr, MetaId, MetaModel, Readable, UnixTime

KNOWN_STATUSES = frozenset({"sent", "delivered", "read", "failed", "deleted"})
StatusError = WebhookError  # code, title, message, error_data.details


class ConversationOrigin(MetaModel):
    type: Lenient[str] = None  # service, marketing, utility, authentication, referral_conversion, …


class StatusConversation(MetaModel):
    id: Lenient[str] = None
    origin: LenientDict = Field(default_factory=dict)
    expiration_timestamp: Lenient[UnixTime] = None

    @property
    def origin_type(self) -> str | None:
        return ConversationOrigin.model_validate(self.origin).type


class Pricing(MetaModel):
    billable: Lenient[bool] = None
    pricing_model: Lenient[str] = None  # CBP (per conversation) or PMP (per message, from 2025-07-01)
    category: Lenient[str] = None  # marketing, utility, authentication, service, …
    type: Lenient[str] = None  # PMP: regular, free_customer_service, free_entry_point


class Status(MetaModel):
    id: MetaId  # the wamid of the business's message
    status: MetaId
    timestamp: UnixTime
    recipient_id: LenientStr = ""  # the customer's wa_id; may be absent for a customer known by user id only
    recipient_user_id: Lenient[str] = None
    recipient_parent_user_id: Lenient[str] = None
    # What the business attached when sending (Meta allows 512 characters; anything longer is not ours).
    biz_opaque_callback_data: Lenient[Annotated[str, StringConstraints(max_length=512)]] = None
    conversation: Lenient[StatusConversation] = None
    # Kept as Meta's dict (callers validate it into their own models); :attr:`parsed_pricing` is the typed view.
    pricing: Lenient[dict[str, Any]] = None
    errors: Readable[StatusError] = Field(default_factory=list)

    @property
    def parsed_pricing(self) -> Pricing | None:
        return None if self.pricing is None else Pricing.model_validate(self.pricing)

    @property
    def is_known(self) -> bool:
        """False for a ``status`` value Meta added after this code was written."""
        return self.status in KNOWN_STATUSES

"""What Meta answers about a client's number and its WABA during onboarding, as tolerant pydantic models.

Field names and values are Meta's (``GET /{phone_number_id}``, ``GET /{waba_id}/phone_numbers``, onboarding-facts.md
§4): values Meta adds later are kept as text, unknown fields are ignored, so a new Graph version does not break
onboarding.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

_TOLERANT = ConfigDict(extra="ignore", frozen=True)

# Asked for explicitly: Meta's default fields lack name_status, status and is_on_biz_app.
NUMBER_FIELDS = (
    "id",
    "display_phone_number",
    "verified_name",
    "name_status",
    "code_verification_status",
    "quality_rating",
    "platform_type",
    "throughput",
    "status",
    "is_on_biz_app",
    "last_onboarded_time",
)


class Throughput(BaseModel):
    model_config = _TOLERANT

    level: str = "NOT_APPLICABLE"  # STANDARD, HIGH, NOT_APPLICABLE


class PhoneNumberInfo(BaseModel):
    """A number as Meta reports it: its display name and review, verification, quality, platform, throughput."""

    model_config = _TOLERANT

    id: str
    display_phone_number: str = ""
    verified_name: str = ""
    name_status: str | None = None  # APPROVED, PENDING_REVIEW, DECLINED, …
    code_verification_status: str | None = None  # VERIFIED, NOT_VERIFIED, EXPIRED
    quality_rating: str | None = None  # GREEN, YELLOW, RED, UNKNOWN (older: NA)
    platform_type: str | None = None  # CLOUD_API once registered, else NOT_APPLICABLE
    throughput: Throughput = Field(default_factory=Throughput)
    status: str | None = None  # CONNECTED, PENDING, BANNED, RESTRICTED, …
    is_on_biz_app: bool = False  # coexistence: the number stays on the WhatsApp Business app
    last_onboarded_time: str | None = None

    @property
    def on_cloud_api(self) -> bool:
        """Registered and able to send (Chatwoot registers when either says NOT_APPLICABLE)."""
        return self.platform_type == "CLOUD_API" and self.throughput.level != "NOT_APPLICABLE"

    @property
    def verified(self) -> bool:
        return self.code_verification_status == "VERIFIED"


class SubscribedApp(BaseModel):
    """One entry of ``GET /{waba_id}/subscribed_apps``: the app and the WABA's callback override, if any."""

    model_config = _TOLERANT

    app_id: str
    app_name: str = ""
    override_callback_uri: str | None = None

    @classmethod
    def from_graph(cls, entry: dict[str, Any]) -> SubscribedApp:
        app = entry.get("whatsapp_business_api_data") or {}
        return cls(
            app_id=str(app.get("id", "")),
            app_name=str(app.get("name", "")),
            override_callback_uri=entry.get("override_callback_uri"),
        )


class BusinessToken(BaseModel):
    """The client's business token from an Embedded Signup code. ``expires_in`` is absent for tokens that never
    expire; the "60 Expiration Token" configuration gives about 60 days."""

    model_config = _TOLERANT

    access_token: SecretStr
    token_type: str = "bearer"  # noqa: S105 (Graph's token type, not a secret)
    expires_in: int | None = None

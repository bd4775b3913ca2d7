"""What the sender's tests send: a ``message.send`` command to one tenant's customer."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import SendMessage, SentBy
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"


def command(
    tenant: Tenant,
    text: str = "¡Hola! Sí, tenemos apartamentos en Chapinero.",
    *,
    to: str = CUSTOMER,
    last_message_at: datetime | None = None,
    sent_by: SentBy | None = None,
) -> Envelope[SendMessage]:
    return wrap(
        SendMessage(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            to=to,
            text=text,
            reply_to_wamid="wamid.in1",
            customer_last_message_at=last_message_at or datetime.now(UTC),
            sent_by=sent_by,
        ),
        correlation_id="corr-s",
        tenant_id=tenant.client_id,
    )

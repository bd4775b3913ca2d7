"""Billing's record of a conversation window, for tests of other services: written by billing's own handler."""

from __future__ import annotations

import uuid
from datetime import datetime

from billing.handlers import Deps, count_outbound
from shared.contracts.envelope import wrap
from shared.contracts.messages import MessageSent
from shared.messaging.runtime import Infrastructure
from tests.support.payloads import new_wamid
from tests.support.tenants import Tenant


async def window_opened(infra: Infrastructure, tenant: Tenant, wa_id: str, at: datetime) -> None:
    """``tenant``'s business message to ``wa_id`` at ``at``, counted by billing: it opens a 24-hour window then."""
    sent = MessageSent(
        client_id=tenant.client_id,
        send_id=uuid.uuid4(),
        phone_number_id=tenant.phone_number_id,
        to=wa_id,
        wamid=new_wamid(),
        text="hola",
        sent_at=at,
    )
    await count_outbound(
        wrap(sent, correlation_id="corr-test", tenant_id=tenant.client_id), Deps(infra.pool, infra.publisher)
    )

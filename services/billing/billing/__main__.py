"""billing — consumes ``message.received``, ``message.sent``, ``message.status``; publishes
``conversation.opened`` and ``quota.exhausted``; owns the ``billing`` schema (conversations, monthly usage,
Meta's pricing data).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from billing import store
from billing.handlers import Deps, count_inbound, count_outbound, record_status
from billing.settings import BillingSettings
from shared.contracts.messages import MessageReceived, MessageSent, MessageStatusChanged
from shared.messaging import inbox
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, every, serve

ROLE = "billing"
# Each effect runs in the batches of what the broker delivered (one transaction, one round of confirms), or alone.
ROUTES: dict[str, Route[Deps]] = {
    MessageReceived.TYPE: Route(MessageReceived, count_inbound, count_inbound.batch_effect),
    MessageSent.TYPE: Route(MessageSent, count_outbound, count_outbound.batch_effect),
    MessageStatusChanged.TYPE: Route(MessageStatusChanged, record_status, record_status.batch_effect),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[BillingSettings]) -> AsyncIterator[Deps]:
    async with every(
        3600, lambda: inbox.forget_old(infra.pool, "billing", store.INBOX_RETENTION_DAYS), "billing-inbox-retention"
    ):
        yield Deps(pool=infra.pool, publisher=infra.publisher)


def main() -> None:
    serve(ROLE, ROUTES, bootstrap, BillingSettings, batch=True)


if __name__ == "__main__":
    main()

"""router — consumes ``webhook.received``, ``message.sent`` and ``number.activated`` (hands back what waited for
the number); publishes ``message.received``,
``message.status`` and ``webhook.parked``; owns the ``router`` schema (messages, statuses, contacts, parked,
the exact bytes of webhooks it had to alter to store, the outbox).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from router.deps import Deps
from router.handlers import WebhookBatchEffect, hand_back_waiting, record_outbound, route_webhook
from router.settings import RouterSettings
from shared.contracts.directory import NumberActivated
from shared.contracts.messages import MessageSent, WebhookReceived
from shared.messaging import outbox
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, serve

ROLE = "router"
OUTBOX = "router"  # the schema whose outbox the router's events go through
# webhook.received and message.sent are carried out in the batches of what the broker delivered (one transaction,
# their events through router.outbox, published after the commit), or alone.
ROUTES: dict[str, Route[Deps]] = {
    WebhookReceived.TYPE: Route(WebhookReceived, route_webhook, WebhookBatchEffect()),
    MessageSent.TYPE: Route(MessageSent, record_outbound, record_outbound.batch_effect),
    NumberActivated.TYPE: Route(NumberActivated, hand_back_waiting),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[RouterSettings]) -> AsyncIterator[Deps]:
    async with outbox.relaying(infra.pool, infra.publisher, OUTBOX):
        yield Deps(pool=infra.pool, publisher=infra.publisher)


def main() -> None:
    serve(ROLE, ROUTES, bootstrap, RouterSettings, batch=True, outbox=OUTBOX)


if __name__ == "__main__":
    main()

"""router — consumes ``webhook.received`` and ``message.sent``; publishes ``message.received``,
``message.status`` and ``webhook.parked``; owns the ``router`` schema (messages, statuses, contacts, parked).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from router.deps import Deps
from router.handlers import record_outbound, route_webhook
from shared.consumer import Route
from shared.logging import configure_logging
from shared.messages import MessageSent, WebhookReceived
from shared.runtime import Infrastructure, run_worker
from shared.settings import Settings

ROLE = "router"
ROUTES: dict[str, Route[Deps]] = {
    WebhookReceived.TYPE: Route(WebhookReceived, route_webhook),
    MessageSent.TYPE: Route(MessageSent, record_outbound),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure) -> AsyncIterator[Deps]:
    yield Deps(pool=infra.pool, publisher=infra.publisher)


def main() -> None:
    settings = Settings(service=ROLE)
    configure_logging(settings.service, settings.log_level)
    asyncio.run(run_worker(settings, ROLE, ROUTES, bootstrap))


if __name__ == "__main__":
    main()

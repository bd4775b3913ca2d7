"""sender — consumes ``message.send`` and ``message.mark_read``; publishes ``message.sent`` and
``message.failed``; owns the ``sender`` schema (sends by idempotency key, rate buckets); calls Meta's Graph API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sender import store
from sender.handlers import Deps, mark_read, send
from sender.limits import Limits
from sender.settings import SenderSettings
from shared.contracts.messages import MarkRead, SendMessage
from shared.graph.client import graph_client
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, every, serve

ROLE = "sender"
ROUTES: dict[str, Route[Deps]] = {
    SendMessage.TYPE: Route(SendMessage, send),
    MarkRead.TYPE: Route(MarkRead, mark_read),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[SenderSettings]) -> AsyncIterator[Deps]:
    settings = infra.settings
    limits = Limits(settings.number_rate_per_s, settings.pair_rate_per_s, settings.pair_burst)
    async with (
        graph_client(settings) as graph,
        every(600, lambda: store.forget_idle_buckets(infra.pool, limits.full_after_s()), "sender-bucket-retention"),
    ):
        yield Deps(pool=infra.pool, publisher=infra.publisher, graph=graph, limits=limits)


def main() -> None:
    serve(ROLE, ROUTES, bootstrap, SenderSettings)


if __name__ == "__main__":
    main()

"""sender — consumes ``message.send`` and ``message.mark_read``; publishes ``message.sent`` and
``message.failed`` (and ``number.token_rejected`` when Meta refuses a client's business token); owns the ``sender``
schema (sends by idempotency key, rate buckets); reads ``directory_read.number_tokens``; calls Meta's Graph API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sender import store
from sender.handlers import Deps, mark_read, send, sends
from sender.limits import Limits
from sender.settings import SenderSettings
from sender.tokens import NumberTokens
from shared.contracts.messages import MarkRead, SendMessage
from shared.graph.client import graph_client
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, every, serve
from shared.secretbox import KeyRing

ROLE = "sender"
ROUTES: dict[str, Route[Deps]] = {
    SendMessage.TYPE: Route(SendMessage, send, many=sends),
    MarkRead.TYPE: Route(MarkRead, mark_read),
}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[SenderSettings]) -> AsyncIterator[Deps]:
    settings = infra.settings
    limits = Limits(settings.number_rate_per_s, settings.pair_rate_per_s, settings.pair_burst)
    tokens = NumberTokens(KeyRing.from_setting(settings.credential_keys))  # a bad ring stops the start
    async with (
        graph_client(settings) as graph,
        every(600, lambda: store.forget_idle_buckets(infra.pool, limits.full_after_s()), "sender-bucket-retention"),
    ):
        yield Deps(pool=infra.pool, publisher=infra.publisher, graph=graph, limits=limits, tokens=tokens)


def main() -> None:
    # Batches, several at once: a batch's sends are claimed together, then go to Meta at the same time.
    serve(ROLE, ROUTES, bootstrap, SenderSettings, batch=True, overlapping=True)


if __name__ == "__main__":
    main()

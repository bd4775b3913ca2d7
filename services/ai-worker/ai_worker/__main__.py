"""ai-worker — consumes ``message.received``; publishes ``message.mark_read``, ``message.send`` and
``reply.paused``; owns ``ai_worker`` (which customer messages each reply answers); reads the client's
personality from ``directory_read``, the conversation from ``router_read.messages``, the month's usage from
``billing_read`` (the owners' read views).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ai_worker.handlers import Deps, replies, reply
from ai_worker.settings import AiWorkerSettings
from shared.contracts.messages import MessageReceived
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, serve
from shared.prompting import OpenAIReplyWriter, ReplyWriter, openai_client

ROLE = "ai-worker"
ROUTES: dict[str, Route[Deps]] = {MessageReceived.TYPE: Route(MessageReceived, reply, many=replies)}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[AiWorkerSettings], writer: ReplyWriter | None = None) -> AsyncIterator[Deps]:
    settings = infra.settings
    async with openai_client(settings) as client:
        yield Deps(
            pool=infra.pool,
            publisher=infra.publisher,
            writer=writer or OpenAIReplyWriter(client, settings.openai_model),
            history_messages=settings.history_messages,
            reply_burst_window_ms=settings.reply_burst_window_ms,
        )


def main() -> None:
    # Generic plans: its conversation statements (arrivals, standings) are lookups by id through the read views,
    # which PostgreSQL planned anew at every execution for several times what running them costs (shared.db).
    # Batches, several at once: each holds one connection (its messages' turns) while the model writes its replies.
    serve(ROLE, ROUTES, bootstrap, AiWorkerSettings, generic_plans=True, batch=True, overlapping=True)


if __name__ == "__main__":
    main()

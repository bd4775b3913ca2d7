"""ai-worker — consumes ``message.received``; publishes ``message.mark_read``, ``message.send`` and
``reply.paused``; owns ``ai_worker`` (which customer messages each reply answers); reads the client's
personality from ``directory_read``, the conversation from ``router_read.messages``, the month's usage from
``billing_read`` (the owners' read views).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import openai

from ai_worker.handlers import Deps, reply
from ai_worker.llm import OpenAIReplyWriter, ReplyWriter
from ai_worker.settings import AiWorkerSettings
from shared.contracts.messages import MessageReceived
from shared.messaging.consumer import Route
from shared.messaging.runtime import Infrastructure, serve

ROLE = "ai-worker"
ROUTES: dict[str, Route[Deps]] = {MessageReceived.TYPE: Route(MessageReceived, reply)}


@asynccontextmanager
async def bootstrap(infra: Infrastructure[AiWorkerSettings], writer: ReplyWriter | None = None) -> AsyncIterator[Deps]:
    settings = infra.settings
    client = openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() or "unset",
        timeout=settings.openai_timeout_s,
        max_retries=1,
    )
    async with client:
        yield Deps(
            pool=infra.pool,
            publisher=infra.publisher,
            writer=writer or OpenAIReplyWriter(client, settings.openai_model),
            history_messages=settings.history_messages,
            reply_burst_window_ms=settings.reply_burst_window_ms,
        )


def main() -> None:
    serve(ROLE, ROUTES, bootstrap, AiWorkerSettings)


if __name__ == "__main__":
    main()

"""The ai-worker's handler with the real openai client (production's, over aiohttp) against the sandbox's stub, the
real broker and database, and one customer's conversation stored by the router's own handlers from Meta's webhooks
and ``message.sent``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from ai_worker.handlers import Deps
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageReceived, MessageSent
from shared.messaging.runtime import Infrastructure
from shared.prompting import OpenAIReplyWriter, openai_client
from shared.settings import LLMSettings
from tests.support.payloads import new_wamid, reaction_message, text_message
from tests.support.router import business_wrote, customer_wrote, image_message, reply_recorded
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"


@pytest.fixture
async def deps(infra: Infrastructure, sandbox: Sandbox) -> AsyncIterator[Deps]:
    # The production client, without a retry of its own: an outage the stub injects reaches the handler (the
    # consumer's retry queue's turn).
    settings = LLMSettings(openai_base_url=f"{sandbox.llm_url}/v1", openai_api_key="test")
    async with openai_client(settings, max_retries=0) as client:
        yield Deps(infra.pool, infra.publisher, OpenAIReplyWriter(client, "stub-model"))


@dataclass(frozen=True)
class Chat:
    """One customer writing to one tenant's number."""

    infra: Infrastructure
    tenant: Tenant
    customer: str = CUSTOMER

    async def write(
        self, text: str | None, at: datetime, direction: str = "inbound", message_type: str = "text"
    ) -> str:
        """The customer's message in Meta's webhook, stored by the router before it publishes ``message.received``
        (``outbound``: the business wrote it, not the ai-worker: a CRM's send through the sender); its wamid."""
        if direction == "outbound":
            assert text is not None
            return await business_wrote(self.infra, self.tenant, self.customer, text, at)
        return await customer_wrote(self.infra, self.tenant, self._message(text, at, message_type))

    def _message(self, text: str | None, at: datetime, message_type: str) -> dict[str, Any]:
        timestamp = int(at.timestamp())
        if message_type == "reaction":
            assert text is not None
            return reaction_message(text, to_wamid=new_wamid(), sender=self.customer, timestamp=timestamp)
        if message_type == "image":
            assert text is None  # a photo without words
            return image_message(f"media-{uuid.uuid4().hex[:8]}", sender=self.customer, timestamp=timestamp)
        assert message_type == "text" and text is not None
        return text_message(text, sender=self.customer, timestamp=timestamp)

    async def sent(self, command: dict[str, object], at: datetime) -> str:
        """The router's record of a ``message.send`` the sender has sent (its ``MessageSent``); its wamid."""
        data = command["data"]
        assert isinstance(data, dict)
        sent = MessageSent(
            client_id=self.tenant.client_id,
            send_id=command["id"],  # type: ignore[arg-type]
            phone_number_id=self.tenant.phone_number_id,
            to=self.customer,
            wamid=new_wamid(),
            text=data["text"],
            reply_to_wamid=data["reply_to_wamid"],
            sent_at=at,
        )
        await reply_recorded(self.infra, sent)
        return sent.wamid

    def received(
        self, wamid: str, text: str | None, at: datetime, message_type: str = "text"
    ) -> Envelope[MessageReceived]:
        return wrap(
            MessageReceived(
                client_id=self.tenant.client_id,
                phone_number_id=self.tenant.phone_number_id,
                display_phone_number="576015550100",
                wamid=wamid,
                wa_id=self.customer,
                profile_name="Ana",
                message_type=message_type,
                text=text,
                timestamp=at,
            ),
            correlation_id="corr-ai",
            tenant_id=self.tenant.client_id,
        )

    async def past_the_burst_window(self, wamids: list[str], window_ms: int, timeout: float = 5) -> None:
        """Bounded poll until the router stored each of ``wamids`` at least ``window_ms`` ago, as the database's
        clock sees it (the ai-worker's measure): when the retry queue would hand them back."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while await self.infra.pool.fetchval(
            """SELECT count(*) FROM router_read.messages
                WHERE wamid = ANY($1) AND recorded_at > clock_timestamp() - make_interval(secs => $2)""",
            wamids,
            window_ms / 1000,
        ):
            assert loop.time() < deadline, "the burst window did not pass"
            await asyncio.sleep(0.05)


# Tests take these fixtures unannotated: a conftest is not importable for its types.
@pytest.fixture
def make_chat(infra: Infrastructure) -> Callable[..., Chat]:
    def make(tenant: Tenant, customer: str = CUSTOMER) -> Chat:
        return Chat(infra, tenant, customer)

    return make


@pytest.fixture
def chat(make_chat: Callable[..., Chat], tenant: Tenant) -> Chat:
    return make_chat(tenant)

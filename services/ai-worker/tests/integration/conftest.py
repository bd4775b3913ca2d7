"""The ai-worker's handler with the real openai client against the sandbox's stub, the real broker and database,
and one customer's conversation written into ``router.messages`` the way the router stores it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import openai
import pytest

from ai_worker.handlers import Deps
from ai_worker.llm import OpenAIReplyWriter
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import MessageReceived, MessageSent
from shared.messaging.runtime import Infrastructure
from tests.support.payloads import new_wamid
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant

CUSTOMER = "573001112233"


@pytest.fixture
async def deps(infra: Infrastructure, sandbox: Sandbox) -> AsyncIterator[Deps]:
    async with openai.AsyncOpenAI(base_url=f"{sandbox.llm_url}/v1", api_key="test", max_retries=0) as client:
        yield Deps(infra.pool, infra.publisher, OpenAIReplyWriter(client, "stub-model"))


@dataclass(frozen=True)
class Chat:
    """One customer writing to one tenant's number."""

    pool: asyncpg.Pool
    tenant: Tenant
    customer: str = CUSTOMER

    async def write(
        self,
        text: str | None,
        at: datetime,
        direction: str = "inbound",
        message_type: str = "text",
        payload: str = "{}",  # JSON text
        wamid: str | None = None,
    ) -> str:
        """What the router would have stored before publishing ``message.received``."""
        wamid = wamid or new_wamid()
        await self.pool.execute(
            """INSERT INTO router.messages
                   (wamid, client_id, phone_number_id, wa_id, direction, message_type, body, payload, sent_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)""",
            wamid,
            self.tenant.client_id,
            self.tenant.phone_number_id,
            self.customer,
            direction,
            message_type,
            text,
            payload,
            at,
        )
        return wamid

    async def sent(self, command: dict[str, object], at: datetime) -> str:
        """The router's record of a ``message.send`` the sender has sent (its ``MessageSent``, as payload)."""
        data = command["data"]
        assert isinstance(data, dict)
        wamid = new_wamid()
        sent = MessageSent(
            client_id=self.tenant.client_id,
            send_id=command["id"],  # type: ignore[arg-type]
            phone_number_id=self.tenant.phone_number_id,
            to=self.customer,
            wamid=wamid,
            text=data["text"],
            reply_to_wamid=data["reply_to_wamid"],
            sent_at=at,
        )
        return await self.write(sent.text, at, direction="outbound", payload=sent.model_dump_json(), wamid=wamid)

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


# Tests take these fixtures unannotated: a conftest is not importable for its types.
@pytest.fixture
def make_chat(infra: Infrastructure) -> Callable[..., Chat]:
    def make(tenant: Tenant, customer: str = CUSTOMER) -> Chat:
        return Chat(infra.pool, tenant, customer)

    return make


@pytest.fixture
def chat(make_chat: Callable[..., Chat], tenant: Tenant) -> Chat:
    return make_chat(tenant)

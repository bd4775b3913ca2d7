"""A send's outcome, recorded and announced in one transaction: ``message.sent`` with Meta's wamid, or
``message.failed`` with Meta's code. The event's id is derived from the send id: announced once in effect."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from sender import store
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MessageFailed, MessageSent, SendMessage
from shared.graph.errors import GraphError
from shared.logging import get_logger
from shared.messaging.broker import Publisher

log = get_logger(__name__)


async def announce_sent(
    conn: asyncpg.Connection, publisher: Publisher, envelope: Envelope[SendMessage], wamid: str
) -> None:
    command, send_id = envelope.data, envelope.id
    async with conn.transaction():
        await store.record_sent(conn, send_id, command, wamid)
        sent = MessageSent(
            client_id=command.client_id,
            send_id=send_id,
            phone_number_id=command.phone_number_id,
            to=command.to,
            wamid=wamid,
            text=command.text,
            reply_to_wamid=command.reply_to_wamid,
            sent_at=datetime.now(UTC),
        )
        await publisher.publish(_outcome(sent, envelope))
    log.info("send.sent", wamid=wamid)


async def announce_failed(
    conn: asyncpg.Connection, publisher: Publisher, envelope: Envelope[SendMessage], error: GraphError
) -> None:
    command = envelope.data
    async with conn.transaction():
        await store.record_failed(conn, envelope.id, command, error)
        failed = MessageFailed(
            client_id=command.client_id,
            send_id=envelope.id,
            phone_number_id=command.phone_number_id,
            to=command.to,
            reply_to_wamid=command.reply_to_wamid,
            error_code=error.code,
            error_title=error.title,
            error_details=error.details,
        )
        await publisher.publish(_outcome(failed, envelope))
    log.warning("send.failed", code=error.code, error=error.title)


def _outcome(event: MessageSent | MessageFailed, cause: Envelope[SendMessage]) -> Envelope[MessageSent | MessageFailed]:
    return wrap(
        event,
        id=derived_id(event.TYPE, str(cause.id)),
        tenant_id=cause.tenant_id,
        correlation_id=cause.correlation_id,
    )

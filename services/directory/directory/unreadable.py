"""Commands the directory cannot take are answered, never dropped or retried in a loop.

- On the directory's own queue, a body that is not an envelope or a payload failing validation: ``command.rejected``
  with reason ``malformed`` and pydantic's errors (the shared consumer's ``unreadable`` hook), then acked.
- On ``{p}.commands.unrouted``, the commands exchange's alternate exchange (a routing key no queue takes, e.g. from a
  CRM's plain AMQP client): ``command.rejected`` with reason ``unknown_command``.

The rejection's id is derived from the command's id (or, when no id can be read, from the body's hash), so a
redelivery publishes the same event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aio_pika.abc import AbstractIncomingMessage

from directory.answers import Deps, Refused, publish_answer, rejection
from directory.settings import DirectorySettings
from shared.contracts.envelope import EnvelopeHeader
from shared.logging import get_logger
from shared.messaging.broker import Publisher, PublishFailed
from shared.messaging.consumer import Unreadable
from shared.messaging.runtime import Infrastructure

log = get_logger(__name__)


def _best_type(body: bytes) -> str:
    """The ``type`` of a body that is not a whole envelope, when it has one; else ``unknown``."""
    try:
        value = json.loads(body)
    except ValueError:
        return "unknown"
    found = value.get("type") if isinstance(value, dict) else None
    return found[:200] if isinstance(found, str) and found else "unknown"


async def _publish_rejection(
    publisher: Publisher, body: bytes, header: EnvelopeHeader | None, refusal: Refused, command_type: str | None = None
) -> None:
    command_type = header.type if header is not None else (command_type or _best_type(body))
    command_id = header.id if header is not None else None
    key = str(command_id) if command_id is not None else "body:" + hashlib.sha256(body).hexdigest()
    correlation_id = header.correlation_id if header is not None else key
    tenant_id = header.tenant_id if header is not None else None
    event = rejection(command_id, command_type, refusal)
    await publish_answer(publisher, key, correlation_id, event, tenant_id)


async def reject_unreadable(unreadable: Unreadable, deps: Deps) -> None:
    """The directory queue's ``unreadable`` hook."""
    if unreadable.reason == "no_route":
        assert unreadable.header is not None
        refusal = Refused("unknown_command", f"the directory does not carry out {unreadable.header.type!r}")
    elif unreadable.reason == "not_an_envelope":
        refusal = Refused("malformed", "not a wamux envelope (id, type, correlation_id, data)", unreadable.errors)
    else:
        refusal = Refused("malformed", "the command's payload does not match its schema", unreadable.errors)
    await _publish_rejection(deps.publisher, unreadable.body, unreadable.header, refusal)


def _header(body: bytes) -> EnvelopeHeader | None:
    try:
        return EnvelopeHeader.model_validate_json(body)
    except ValueError:
        return None


@asynccontextmanager
async def answering_unrouted(infra: Infrastructure[DirectorySettings], prefetch: int) -> AsyncIterator[None]:
    """Consume ``{p}.commands.unrouted`` while the directory runs: each command is answered ``unknown_command``."""
    publisher, queue_name = infra.publisher, infra.names.unrouted
    channel = await infra.connection.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})

    async def on_message(message: AbstractIncomingMessage) -> None:
        header = _header(message.body)
        command_type = header.type if header is not None else (message.routing_key or _best_type(message.body))
        refusal = Refused(
            "unknown_command",
            f"no wamux service consumes {command_type!r} (routing key {message.routing_key!r}): "
            "the commands are in docs/schemas",
        )
        try:
            await _publish_rejection(publisher, message.body, header, refusal, command_type)
        except PublishFailed as exc:  # left to the broker's redelivery: the answer is not safe yet
            log.warning("unrouted.answer_failed", reason=exc.reason)
            await message.nack(requeue=True)
            return
        await message.ack()

    tag = await queue.consume(on_message)
    try:
        yield
    finally:
        await queue.cancel(tag)
        await channel.close()

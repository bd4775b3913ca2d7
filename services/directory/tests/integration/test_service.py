"""The running directory, driven as a CRM drives it — a plain AMQP client publishing on the commands exchange:
malformed and unroutable commands are answered by ``command.rejected``, never dropped nor looped; duplicates
change state once; a crash between the effect and its announcement still announces it once."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from typing import Any, ClassVar

import aio_pika
import pytest

from directory.answers import Deps
from directory.onboarding.commands import register_number
from shared.contracts.directory import ClientCreate, NumberRegister
from shared.contracts.envelope import Command, Envelope, wrap
from shared.messaging.broker import PublishFailed, to_message
from shared.messaging.runtime import Infrastructure
from shared.settings import Settings
from tests.support.broker import Tap, get_one, queue_depth
from tests.support.tenants import random_phone_number

pytestmark = pytest.mark.usefixtures("directory_service")


class _Teleport(Command):
    """A well-formed command of a type no wamux service consumes (a CRM's typo, a command from the future)."""

    TYPE: ClassVar[str] = "number.teleport"
    onboarding_id: uuid.UUID


async def crm_publish(infra: Infrastructure[Settings], routing_key: str, body: bytes) -> None:
    """What a CRM does: publish on the commands exchange, without wamux's publisher or its checks."""
    async with infra.connection.channel() as channel:
        exchange = await channel.get_exchange(infra.names.commands, ensure=False)
        await exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key)


def envelope_body(envelope: Envelope[Any]) -> bytes:
    return bytes(to_message(envelope).body)


async def test_a_body_that_is_not_an_envelope_is_rejected_as_malformed_and_acked(
    infra: Infrastructure[Settings], tap: Tap
) -> None:
    await crm_publish(infra, "client.create", b'{"type": "client.create", "data": {}}')

    (answer,) = await tap.wait_for("command.rejected")
    assert answer["data"]["reason"] == "malformed" and answer["data"]["command_id"] is None
    assert answer["data"]["command_type"] == "client.create"
    assert any(e.startswith("id: ") for e in answer["data"]["errors"])
    assert await queue_depth(infra.connection, infra.names.dead_queue("directory")) == 0


async def test_a_payload_failing_validation_is_rejected_with_pydantic_s_errors(
    infra: Infrastructure[Settings], tap: Tap
) -> None:
    envelope = wrap(ClientCreate(client_id=uuid.uuid4(), name="x"), correlation_id="c-bad")
    body = json.loads(envelope_body(envelope))
    body["data"]["name"], body["data"]["free_quota"] = "", -1
    await crm_publish(infra, "client.create", json.dumps(body).encode())

    (answer,) = await tap.wait_for("command.rejected")
    assert answer["data"]["command_id"] == str(envelope.id) and answer["data"]["reason"] == "malformed"
    assert {e.split(":")[0] for e in answer["data"]["errors"]} == {"data.name", "data.free_quota"}
    assert await queue_depth(infra.connection, infra.names.queue("directory")) == 0
    assert await queue_depth(infra.connection, infra.names.dead_queue("directory")) == 0


async def test_a_command_nobody_consumes_is_answered_unknown_command(infra: Infrastructure[Settings]) -> None:
    # No tap here: a queue bound to every command ("#") would take them all, and no alternate exchange is needed.
    async with infra.connection.channel() as channel:
        rejections = await channel.declare_queue(exclusive=True)
        await rejections.bind(infra.names.events, "command.rejected")
        known = wrap(_Teleport(onboarding_id=uuid.uuid4()), correlation_id="c-early")
        await crm_publish(infra, known.type, envelope_body(known))
        await crm_publish(infra, "number.vanish", b"not an envelope")

        answers = [json.loads((await get_one(infra.connection, rejections.name)).body) for _ in range(2)]
    by_type = {a["data"]["command_type"]: a["data"] for a in answers}
    assert by_type["number.teleport"]["command_id"] == str(known.id)
    assert by_type["number.vanish"]["command_id"] is None
    assert {a["reason"] for a in by_type.values()} == {"unknown_command"}
    assert await queue_depth(infra.connection, infra.names.unrouted) == 0


async def test_wamux_s_own_publisher_still_refuses_a_command_nobody_consumes(infra: Infrastructure[Settings]) -> None:
    with pytest.raises(PublishFailed) as failure:
        await infra.publisher.publish(wrap(_Teleport(onboarding_id=uuid.uuid4()), correlation_id="c"))
    assert failure.value.reason == "unroutable"


async def test_the_same_command_delivered_twice_at_once_changes_state_once(
    infra: Infrastructure[Settings], tap: Tap
) -> None:
    client = wrap(ClientCreate(client_id=uuid.uuid4(), name="Panadería Luna"), correlation_id="c-client")
    await crm_publish(infra, client.type, envelope_body(client))
    await tap.wait_for("client.created")
    register = wrap(
        NumberRegister(onboarding_id=uuid.uuid4(), client_id=client.data.client_id, phone_number=random_phone_number()),
        correlation_id="c-twice",
    )
    await asyncio.gather(*(crm_publish(infra, register.type, envelope_body(register)) for _ in range(4)))

    await tap.wait_for("number.onboarding_changed")
    await _quiet(infra)
    await tap.drained()
    assert len(tap.of_type("number.onboarding_changed")) == 1
    assert (
        await infra.pool.fetchval(
            "SELECT count(*) FROM directory.onboardings WHERE client_id = $1", client.data.client_id
        )
        == 1
    )


class _CrashingPublisher:
    """The process dies after the effect, before its announcement is confirmed."""

    async def publish(self, envelope: Envelope[Any]) -> None:
        raise PublishFailed("disconnected", "the directory was killed")


async def test_a_crash_between_the_effect_and_its_announcement_still_announces_it_once(
    infra: Infrastructure[Settings], deps: Deps, tap: Tap
) -> None:
    client = wrap(ClientCreate(client_id=uuid.uuid4(), name="Panadería Luna"), correlation_id="c-client")
    await crm_publish(infra, client.type, envelope_body(client))
    await tap.wait_for("client.created")
    register = wrap(
        NumberRegister(onboarding_id=uuid.uuid4(), client_id=client.data.client_id, phone_number=random_phone_number()),
        correlation_id="c-crash",
    )
    with pytest.raises(PublishFailed):
        await register_number(register, replace(deps, publisher=_CrashingPublisher()))  # type: ignore[arg-type]
    await crm_publish(infra, register.type, envelope_body(register))  # the broker's redelivery
    await crm_publish(infra, register.type, envelope_body(register))  # and once more, later

    (changed,) = await tap.wait_for("number.onboarding_changed")
    await _quiet(infra)
    await tap.drained()
    assert len(tap.of_type("number.onboarding_changed")) == 1 and changed["data"]["state"] == "pending"


async def _quiet(infra: Infrastructure[Settings], timeout: float = 10) -> None:
    """Bounded poll until the directory's queue is empty and nothing is unacked."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with infra.connection.channel() as channel:  # a new channel: a robust one caches passive answers
            queue = await channel.declare_queue(infra.names.queue("directory"), passive=True)
        if not queue.declaration_result.message_count:
            return
        assert loop.time() < deadline
        await asyncio.sleep(0.05)

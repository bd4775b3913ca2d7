"""The dead-letter tool against the real RabbitMQ: look without losing, replay exactly what was asked, purge."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging import deadletters, topology, wire
from shared.messaging.broker import to_message
from shared.messaging.consumer import ATTEMPT_HEADER, ERROR_HEADER, Consumer, Reject, Route
from shared.messaging.deadletters import REPLAYED_AT_HEADER, UnknownRole
from shared.messaging.runtime import Infrastructure
from tests.support.broker import get_one, queue_depth

REPO = Path(__file__).resolve().parents[3]


def webhook(body: str) -> Envelope[WebhookReceived]:
    return wrap(
        WebhookReceived(body=body, received_at=datetime.now(UTC)), correlation_id=f"c-{body}", tenant_id=uuid.uuid4()
    )


def names_of(infra: Infrastructure) -> topology.Topology:
    return infra.names


async def wait_for_depth(connection: AbstractRobustConnection, queue: str, depth: int, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (current := await queue_depth(connection, queue)) != depth:
        if loop.time() > deadline:
            raise TimeoutError(f"{queue} holds {current} messages, not {depth}, after {timeout}s")
        await asyncio.sleep(0.05)


async def park(infra: Infrastructure, envelope: Envelope[WebhookReceived], reason: str, attempt: int = 3) -> None:
    """Dead-letter a message the way the consumer does: republished to the DLX with the reason."""
    names = names_of(infra)
    message = to_message(envelope)
    message.headers = {**message.headers, ERROR_HEADER: reason, ATTEMPT_HEADER: attempt}
    await infra.publisher.publish_raw(await infra.publisher.exchange(names.dlx), names.queue("router"), message)


async def reject_by_broker(infra: Infrastructure, envelope: Envelope[WebhookReceived]) -> None:
    """A basic.reject without requeue: RabbitMQ dead-letters it itself, recording x-death (reason 'rejected')."""
    names = names_of(infra)
    before = await queue_depth(infra.connection, names.dead_queue("router"))
    await infra.publisher.publish(envelope)
    async with infra.connection.channel() as channel:
        queue = await channel.get_queue(names.queue("router"), ensure=False)
        message = await queue.get(no_ack=False)
        await message.reject(requeue=False)
    await wait_for_depth(infra.connection, names.dead_queue("router"), before + 1)


@dataclass
class Router:
    broken: bool = True
    handled: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def route(envelope: Envelope[WebhookReceived], router: Router) -> None:
    if router.broken:
        raise Reject(f"cannot route {envelope.data.body}")
    router.handled.append(str(envelope.id))
    router.done.set()


async def start_router(infra: Infrastructure, router: Router) -> Consumer[Router]:
    routes = {WebhookReceived.TYPE: Route(WebhookReceived, route)}
    consumer = Consumer("router", routes, router, infra.publisher, names_of(infra))
    await consumer.start(infra.connection, prefetch=1)  # one at a time: dead letters keep the publish order
    return consumer


async def ids_in_dead_queue(infra: Infrastructure) -> list[str | None]:
    [dead] = await deadletters.peek(infra.connection, names_of(infra), ["router"], limit=100)
    return [m.envelope_id for m in dead.messages]


async def test_list_shows_each_dead_letter_with_its_reason_and_leaves_the_queue_as_it_was(
    infra: Infrastructure,
) -> None:
    names, envelopes = names_of(infra), [webhook("a"), webhook("b"), webhook("c")]
    consumer = await start_router(infra, Router())
    for envelope in envelopes[:2]:
        await infra.publisher.publish(envelope)
    await wait_for_depth(infra.connection, names.dead_queue("router"), 2)
    await consumer.stop()
    await reject_by_broker(infra, envelopes[2])

    queues = await deadletters.peek(infra.connection, names)
    assert [q.role for q in queues] == list(topology.ROLES)
    dead = queues[0]
    assert (dead.queue, dead.depth) == (names.dead_queue("router"), 3)
    assert [m.envelope_id for m in dead.messages] == [str(e.id) for e in envelopes]
    assert [m.reason for m in dead.messages] == ["cannot route a", "cannot route b", "rejected"]
    assert [(m.type, m.correlation_id, m.tenant_id) for m in dead.messages] == [
        (e.type, e.correlation_id, str(e.tenant_id)) for e in envelopes
    ]
    assert all(m.first_death_at is not None for m in dead.messages)  # ours (x-wamux-dead-at) and the broker's
    assert all(q.depth == 0 and q.messages == [] for q in queues[1:])

    [first_two] = await deadletters.peek(infra.connection, names, ["router"], limit=2)
    assert [m.envelope_id for m in first_two.messages] == [str(e.id) for e in envelopes[:2]]
    [again] = await deadletters.peek(infra.connection, names, ["router"])
    assert [m.envelope_id for m in again.messages] == [str(e.id) for e in envelopes]  # same order after a partial look
    assert [m.deliveries for m in again.messages] == [2, 2, 2]  # RabbitMQ counts each look as a delivery
    assert await queue_depth(infra.connection, names.dead_queue("router")) == 3


async def test_replay_by_id_moves_exactly_that_message_back_with_its_attempt_reset(infra: Infrastructure) -> None:
    names, envelopes = names_of(infra), [webhook("a"), webhook("b"), webhook("c")]
    for envelope in envelopes:
        await park(infra, envelope, f"bad {envelope.data.body}")
    assert await ids_in_dead_queue(infra) == [str(e.id) for e in envelopes]  # looked at: now served as returned

    report = await deadletters.replay(infra.connection, names, "router", ids=[envelopes[1].id])
    unknown = uuid.uuid4()
    missing = await deadletters.replay(infra.connection, names, "router", ids=[unknown])

    assert [m.envelope_id for m in report.replayed] == [str(envelopes[1].id)]
    assert report.replayed[0].reason == "bad b" and report.failure is None and report.not_found == []
    assert missing.replayed == [] and missing.not_found == [str(unknown)]
    assert await ids_in_dead_queue(infra) == [str(envelopes[0].id), str(envelopes[2].id)]
    back = await get_one(infra.connection, names.queue("router"))
    assert json.loads(back.body)["id"] == str(envelopes[1].id)
    assert back.headers[ATTEMPT_HEADER] == 0 and ERROR_HEADER not in back.headers
    assert datetime.fromisoformat(str(back.headers[REPLAYED_AT_HEADER])) <= datetime.now(UTC)
    assert back.headers["tenant_id"] == str(envelopes[1].tenant_id)
    assert back.delivery_mode == aio_pika.DeliveryMode.PERSISTENT and back.message_id == str(envelopes[1].id)
    assert await queue_depth(infra.connection, names.queue("router")) == 0


async def test_replay_all_empties_the_dead_queue_into_the_work_queue_oldest_first(infra: Infrastructure) -> None:
    names, envelopes = names_of(infra), [webhook("a"), webhook("b"), webhook("c")]
    for envelope in envelopes[:2]:
        await park(infra, envelope, "bad")
    await reject_by_broker(infra, envelopes[2])

    first = await deadletters.replay(infra.connection, names, "router", limit=1)
    rest = await deadletters.replay(infra.connection, names, "router")

    assert [m.envelope_id for m in first.replayed + rest.replayed] == [str(e.id) for e in envelopes]
    assert await queue_depth(infra.connection, names.dead_queue("router")) == 0
    arrived = [await get_one(infra.connection, names.queue("router")) for _ in envelopes]
    assert [json.loads(m.body)["id"] for m in arrived] == [str(e.id) for e in envelopes]
    headers = arrived[2].headers
    assert "x-death" not in headers and "x-first-death-reason" not in headers and headers[ATTEMPT_HEADER] == 0


async def test_a_replayed_message_is_handled_by_the_consumer_once_it_is_fixed(infra: Infrastructure) -> None:
    names, router, poison = names_of(infra), Router(), webhook("now fixed")
    consumer = await start_router(infra, router)
    await infra.publisher.publish(poison)
    await wait_for_depth(infra.connection, names.dead_queue("router"), 1)

    router.broken = False
    report = await deadletters.replay(infra.connection, names, "router", ids=[poison.id])
    await asyncio.wait_for(router.done.wait(), 10)
    await consumer.stop()

    assert [m.envelope_id for m in report.replayed] == router.handled == [str(poison.id)]
    assert await queue_depth(infra.connection, names.dead_queue("router")) == 0
    assert await queue_depth(infra.connection, names.queue("router")) == 0


async def test_a_dry_run_moves_nothing(infra: Infrastructure) -> None:
    names, envelopes = names_of(infra), [webhook("a"), webhook("b"), webhook("c")]
    for envelope in envelopes:
        await park(infra, envelope, "bad")

    everything = await deadletters.replay(infra.connection, names, "router", dry_run=True)
    oldest = await deadletters.replay(infra.connection, names, "router", limit=1, dry_run=True)

    assert everything.dry_run and [m.envelope_id for m in everything.replayed] == [str(e.id) for e in envelopes]
    assert [m.envelope_id for m in oldest.replayed] == [str(envelopes[0].id)]
    assert await ids_in_dead_queue(infra) == [str(e.id) for e in envelopes]
    assert await queue_depth(infra.connection, names.queue("router")) == 0


async def test_a_publish_that_fails_leaves_the_dead_copy_in_place(infra: Infrastructure) -> None:
    names, envelopes = names_of(infra), [webhook("a"), webhook("b")]
    for envelope in envelopes:
        await park(infra, envelope, "bad")
    async with infra.connection.channel() as channel:
        await channel.queue_delete(names.queue("router"))  # nowhere to go: the publish is unroutable

    report = await deadletters.replay(infra.connection, names, "router")

    assert report.replayed == [] and report.failure is not None and "unroutable" in report.failure
    assert await ids_in_dead_queue(infra) == [str(e.id) for e in envelopes]


async def test_purge_refuses_without_yes_then_drops_the_dead_letters(
    infra: Infrastructure, capsys: pytest.CaptureFixture[str]
) -> None:
    names = names_of(infra)
    for body in ("a", "b"):
        await park(infra, webhook(body), "bad")

    assert deadletters.main(["purge", "router"]) == 2
    assert "without --yes" in capsys.readouterr().err
    assert await queue_depth(infra.connection, names.dead_queue("router")) == 2
    assert await deadletters.purge(infra.connection, names, "router") == 2
    assert await queue_depth(infra.connection, names.dead_queue("router")) == 0


async def test_an_unknown_role_is_named_with_the_roles_there_are(
    infra: Infrastructure, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UnknownRole, match="unknown role 'x': one of router, ai-worker, sender, billing"):
        await deadletters.peek(infra.connection, names_of(infra), ["x"])
    assert deadletters.main(["replay", "x", "--all"]) == 2
    assert "unknown role 'x'" in capsys.readouterr().err


async def test_list_as_json_from_the_command_line(infra: Infrastructure) -> None:
    names, envelope = names_of(infra), webhook("a")
    await park(infra, envelope, "bad a", attempt=5)
    env = {
        **os.environ,
        "WAMUX_AMQP_URL": infra.settings.amqp_url.get_secret_value(),
        "WAMUX_BROKER_PREFIX": infra.settings.broker_prefix,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.messaging.deadletters",
        "list",
        "--json",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, err.decode()
    listed = json.loads(out)
    assert set(listed) == set(topology.ROLES)
    assert listed["router"]["depth"] == 1 and listed["sender"]["depth"] == 0
    [message] = listed["router"]["messages"]
    assert (message["envelope_id"], message["reason"], message["attempt"]) == (str(envelope.id), "bad a", 5)
    assert await queue_depth(infra.connection, names.dead_queue("router")) == 1


async def test_a_props_form_webhook_dead_lettered_by_the_consumer_is_listed_and_replayed_as_it_came(
    infra: Infrastructure,
) -> None:
    names, raw, envelope_id = names_of(infra), b'{"object":"whatsapp_business_account","entry":[]}', str(uuid.uuid4())
    properties = wire.webhook_properties(raw, envelope_id=envelope_id, received_at_us=1_764_662_400_123_456)
    consumer = await start_router(infra, Router())
    await infra.publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND).publish(raw, properties)
    await wait_for_depth(infra.connection, names.dead_queue("router"), 1)
    await consumer.stop()

    [dead] = await deadletters.peek(infra.connection, names, ["router"])
    [letter] = dead.messages
    assert (letter.envelope_id, letter.type, letter.correlation_id) == (envelope_id, "webhook.received", envelope_id)
    assert letter.reason == f"cannot route {raw.decode()}"

    report = await deadletters.replay(infra.connection, names, "router", ids=[uuid.UUID(envelope_id)])
    assert [m.envelope_id for m in report.replayed] == [envelope_id]
    back = await get_one(infra.connection, names.queue("router"))
    assert back.body == raw and back.content_type == "application/json"  # still the props form, byte for byte
    replayed = wire.read_envelope(back, WebhookReceived)
    assert str(replayed.id) == envelope_id and replayed.data.body.encode() == raw
    assert replayed.data.received_at == datetime(2025, 12, 2, 8, 0, 0, 123456, tzinfo=UTC)

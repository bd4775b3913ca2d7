"""The router as it runs (a batching consumer, its events through router.outbox) given many deliveries at once:
every good one stored and announced once, each event only after the commit that makes its row readable; what
PostgreSQL refuses parked alone, a redelivery changing nothing, an unreadable delivery dead-lettered alone.

The first webhook is held at its outbox insert (the test locks router.outbox) until the deliveries under test
have all reached the consumer, so they form the next batch whatever the timing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import pytest

from router.__main__ import ROLE, ROUTES
from router.deps import Deps
from router.handlers import record_outbound
from router.store import statuses
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.messages import WebhookReceived
from shared.messaging import topology, wire
from shared.messaging.batch import Batching
from shared.messaging.consumer import Consumer
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap, get_one, queue_depth
from tests.support.payloads import new_wamid, notification, status, text_message
from tests.support.router import message_sent, raw_webhook
from tests.support.statements import watched_pool
from tests.support.tenants import Tenant, set_number_status

pytestmark = pytest.mark.integration
BATCH = 32


@pytest.fixture
async def router(infra: Infrastructure) -> AsyncIterator[Consumer[Deps]]:
    batching = Batching(infra.pool, BATCH, outbox="router")  # as serve(..., batch=True, outbox="router") builds it
    consumer = Consumer(
        ROLE, ROUTES, Deps(infra.pool, infra.publisher), infra.publisher, infra.names, batching=batching
    )
    yield consumer
    await consumer.stop(grace_s=10)


@pytest.fixture
async def refused_wamid(infra: Infrastructure) -> AsyncIterator[str]:
    """A wamid PostgreSQL refuses to store. The parser refuses in advance every refusal known (ids past 256
    characters, NUL, deep nesting), so a check of the test's own stands for what it has not foreseen."""
    wamid, name = new_wamid(), f"test_refused_{uuid.uuid4().hex[:8]}"
    await infra.pool.execute(f"ALTER TABLE router.messages ADD CONSTRAINT {name} CHECK (wamid <> '{wamid}') NOT VALID")
    yield wamid
    await infra.pool.execute(f"ALTER TABLE router.messages DROP CONSTRAINT {name}")


@pytest.fixture
async def readable_on_arrival(infra: Infrastructure) -> AsyncIterator[dict[str, bool]]:
    """Each message.received's wamid → whether its row could be read when the event arrived."""
    seen: dict[str, bool] = {}
    channel = await infra.connection.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(infra.names.events, "message.received")

    async def observe(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        for event in wire.as_json_parts(message):  # a batch's events leave together: a lines group
            wamid = event["data"]["wamid"]
            query = "SELECT count(*) FROM router.messages WHERE wamid = $1"
            seen[wamid] = bool(await infra.pool.fetchval(query, wamid))
        await message.ack()

    await queue.consume(observe)
    yield seen
    await channel.close()


async def until(condition: Callable[[], bool], timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def outbox_emptied(infra: Infrastructure, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await infra.pool.fetchval("SELECT count(*) FROM router.outbox"):
        assert loop.time() < deadline, "router.outbox still holds events"
        await asyncio.sleep(0.02)


async def held_at_the_outbox(
    infra: Infrastructure, router: Consumer[Deps], gate: Envelope[WebhookReceived]
) -> asyncpg.Connection:
    """Start the router with ``gate``'s batch waiting for the test's lock on router.outbox; the open connection."""
    conn = await asyncpg.connect(infra.settings.database_url.get_secret_value())
    tx = conn.transaction()
    await tx.start()
    await conn.execute("LOCK TABLE router.outbox IN EXCLUSIVE MODE")
    await infra.publisher.publish(gate)
    await router.start(infra.connection, prefetch=2 * BATCH)
    me = await conn.fetchval("SELECT pg_backend_pid()")
    for _ in range(500):
        if await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", me):
            return conn
        await asyncio.sleep(0.02)
    raise AssertionError("the router's first batch never reached the outbox")


async def test_a_batch_of_webhooks_is_stored_and_announced_once_after_its_commit_and_a_poison_costs_only_itself(
    infra: Infrastructure,
    tap: Tap,
    tenant: Tenant,
    router: Consumer[Deps],
    readable_on_arrival: dict[str, bool],
    refused_wamid: str,
) -> None:
    def customer(i: int, text: str, wamid: str | None = None) -> dict:  # type: ignore[type-arg]
        return text_message(text, sender=f"57300{i:07d}", wamid=wamid)

    first = customer(0, "primero")
    gate = raw_webhook(notification(tenant.phone_number_id, messages=[first]))
    lock = await held_at_the_outbox(infra, router, gate)

    good = [customer(i, f"mensaje {i}") for i in range(1, 13)]
    good_hooks = [raw_webhook(notification(tenant.phone_number_id, messages=[m])) for m in good]
    refused = customer(20, "rechazado", wamid=refused_wamid)
    neighbour = customer(21, "sigo aquí")
    reply = new_wamid()
    sent = message_sent(tenant, reply, to="573000000001", correlation_id="c-batch")
    not_utf8 = wrap(
        WebhookReceived(body="\ufffd", body_base64="/w==", received_at=datetime.now(UTC)), correlation_id="c-batch"
    )
    deliveries = [
        *good_hooks[:6],
        good_hooks[0],  # the broker redelivers an envelope
        raw_webhook(notification(tenant.phone_number_id, messages=[refused, neighbour])),
        raw_webhook(notification(tenant.phone_number_id, messages=[first])),  # Meta redelivers the first message
        sent,
        raw_webhook(notification(tenant.phone_number_id, statuses=[status(reply, "delivered")])),  # after its send
        not_utf8,
        *good_hooks[6:],
    ]
    for envelope in deliveries:
        await infra.publisher.publish(envelope)
    invalid = aio_pika.Message(json.dumps({**json.loads(gate.model_dump_json()), "data": {}}).encode())
    await infra.publisher.publish_raw(await infra.publisher.exchange(""), infra.names.queue(ROLE), invalid)
    await until(lambda: router.in_flight == 2 + len(deliveries))
    await lock.close()  # the first batch commits; the deliveries under test come as the next one

    dead = await get_one(infra.connection, infra.names.dead_queue(ROLE))
    assert json.loads(dead.body)["data"] == {}  # the unreadable delivery, alone
    announced = [*good, first, neighbour]
    await tap.wait_for("message.received", count=len(announced))
    await tap.wait_for("message.status", where=lambda e: e["data"]["wamid"] == reply)
    parked = await tap.wait_for("webhook.parked", count=2)
    await until(lambda: router.in_flight == 0 and len(readable_on_arrival) == len(announced))
    await tap.drained()

    received = Counter(e["data"]["wamid"] for e in tap.of_type("message.received"))
    assert received == Counter(m["id"] for m in announced)  # each once, the duplicates nothing
    assert readable_on_arrival == {m["id"]: True for m in announced}  # published after the commit, every one
    assert len(tap.of_type("message.status")) == 1
    assert sorted(p["data"]["reason"].split(":")[0] for p in parked) == [
        "body is not UTF-8",
        "message could not be stored",
    ]
    stored = await infra.pool.fetch(
        "SELECT wamid, recorded_at AS tx FROM router.messages WHERE client_id = $1 AND wamid <> $2",
        tenant.client_id,
        first["id"],
    )
    assert sorted(r["wamid"] for r in stored) == sorted([*(m["id"] for m in good), neighbour["id"], reply])
    # now(): the start of the transaction that stored them, savepoints or not. One for the whole batch.
    status_tx = await infra.pool.fetchval("SELECT recorded_at FROM router.statuses WHERE wamid = $1", reply)
    assert {r["tx"] for r in stored} == {status_tx}
    assert await infra.pool.fetchval("SELECT count(*) FROM router.messages WHERE wamid = $1", first["id"]) == 1
    await outbox_emptied(infra)  # published, then forgotten: the flush follows the commit, in the background
    queues = [infra.names.queue(ROLE), *(infra.names.retry_queue(ROLE, t) for t in topology.RETRY_TIERS_S)]
    assert [await queue_depth(infra.connection, q) for q in queues] == [0] * len(queues)  # nothing retried


def status_hook(tenant: Tenant, wamid: str, state: str) -> Envelope[WebhookReceived]:
    return raw_webhook(notification(tenant.phone_number_id, statuses=[status(wamid, state)]))


@pytest.fixture
async def watched(infra: Infrastructure) -> AsyncIterator[tuple[Consumer[Deps], list[str]]]:
    """The router as it runs, on a pool whose statements are kept as they are sent."""
    async with watched_pool(infra) as (pool, statements):
        batching = Batching(pool, BATCH, outbox="router")
        consumer = Consumer(ROLE, ROUTES, Deps(pool, infra.publisher), infra.publisher, infra.names, batching=batching)
        yield consumer, statements
        await consumer.stop(grace_s=10)


async def batch_of(
    infra: Infrastructure, consumer: Consumer[Deps], tenant: Tenant, deliveries: list[Envelope[Any]]
) -> None:
    """``deliveries`` carried out as one batch: they reach the consumer while the gate's batch is held."""
    gate = raw_webhook(notification(tenant.phone_number_id, messages=[text_message("hola")]))
    lock = await held_at_the_outbox(infra, consumer, gate)
    for envelope in deliveries:
        await infra.publisher.publish(envelope)
    await until(lambda: consumer.in_flight == 1 + len(deliveries))
    await lock.close()
    await until(lambda: consumer.in_flight == 0)


def senders_lookups(statements: list[str]) -> int:
    return sum(s == statuses.SENDERS for s in statements)


def status_inserts(statements: list[str]) -> int:
    return sum("INSERT INTO router.statuses" in s for s in statements)


def inserts_into(statements: list[str], table: str, direction: str = "") -> int:
    return sum(f"INSERT INTO {table}" in s and direction in s for s in statements)


async def test_a_batch_stores_its_messages_sends_and_statuses_in_one_statement_each(
    infra: Infrastructure, tap: Tap, tenant: Tenant, watched: tuple[Consumer[Deps], list[str]]
) -> None:
    consumer, statements = watched
    replies = [new_wamid() for _ in range(6)]
    for wamid in replies:  # the business's messages, recorded before their statuses come
        await record_outbound(message_sent(tenant, wamid), Deps(infra.pool, infra.publisher))
    customers = [text_message(f"hola {i}", sender=f"57301{i:07d}") for i in range(5)]
    later = [new_wamid() for _ in range(5)]  # replies whose sends come in the batch, each before its status
    deliveries = [status_hook(tenant, w, state) for w in replies for state in ("sent", "delivered")]
    deliveries.append(status_hook(tenant, replies[0], "sent"))  # Meta sends one again, in the same batch
    deliveries += [raw_webhook(notification(tenant.phone_number_id, messages=[m])) for m in customers]
    deliveries.append(raw_webhook(notification(tenant.phone_number_id, messages=[customers[0]])))  # and again
    for wamid in later:
        deliveries += [message_sent(tenant, wamid), status_hook(tenant, wamid, "sent")]
    assert len(deliveries) < BATCH  # one batch
    await batch_of(infra, consumer, tenant, deliveries)

    announced = await tap.wait_for("message.status", count=17)
    received = await tap.wait_for("message.received", count=6)  # the gate's and the five customers'
    await tap.drained()
    assert Counter((e["data"]["wamid"], e["data"]["status"]) for e in announced) == Counter(
        {**{(w, state): 1 for w in replies for state in ("sent", "delivered")}, **{(w, "sent"): 1 for w in later}}
    )
    assert {e["tenant_id"] for e in announced} == {str(tenant.client_id)}
    assert {m["id"] for m in customers} <= {e["data"]["wamid"] for e in received}
    stored = await infra.pool.fetchval(
        "SELECT count(*) FROM router.statuses WHERE wamid = ANY($1::text[])", [*replies, *later]
    )
    assert stored == 17
    outbound = await infra.pool.fetchval(
        "SELECT count(*) FROM router.messages WHERE wamid = ANY($1::text[]) AND direction = 'outbound'", later
    )
    assert outbound == 5
    assert (
        await infra.pool.fetchval(
            "SELECT count(*) FROM router.contacts WHERE client_id = $1 AND wa_id = ANY($2::text[])",
            tenant.client_id,
            [m["from"] for m in customers],
        )
        == 5
    )
    # The gate's batch (one message) looks no sender up; the batch of 29 deliveries looks its senders up once and
    # stores its statuses, its customers' messages, their contacts and its sends with one statement each.
    assert senders_lookups(statements) == 1
    assert status_inserts(statements) == 1
    assert inserts_into(statements, "router.messages", "'inbound'") == 2
    assert inserts_into(statements, "router.contacts") == 2
    assert inserts_into(statements, "router.messages", "'outbound'") == 1


async def test_in_a_batch_a_status_sees_the_sends_recorded_before_it_and_not_those_after(
    infra: Infrastructure, tap: Tap, tenant: Tenant, watched: tuple[Consumer[Deps], list[str]]
) -> None:
    """A suspended number's statuses are recorded only for messages its client sent through wamux: the batch looks
    the senders up ahead for all, yet each status is judged as if it ran alone in the batch's order."""
    consumer, statements = watched
    earlier, reply, stranger = new_wamid(), new_wamid(), new_wamid()
    await record_outbound(message_sent(tenant, earlier), Deps(infra.pool, infra.publisher))
    await set_number_status(infra.settings.database_url.get_secret_value(), tenant, "suspended")
    deliveries = [
        status_hook(tenant, reply, "sent"),  # Meta's status ahead of the router hearing of the send: it waits
        message_sent(tenant, reply),
        status_hook(tenant, reply, "delivered"),  # after it: the client's, recorded
        status_hook(tenant, earlier, "delivered"),
        status_hook(tenant, stranger, "read"),  # a message wamux never sent: waits for the number
    ]
    await batch_of(infra, consumer, tenant, deliveries)

    announced = await tap.wait_for("message.status", count=2)
    parked = await tap.wait_for("webhook.parked", count=3)  # the gate's message, reply's "sent", the stranger's
    await tap.drained()
    assert sorted((e["data"]["wamid"], e["data"]["status"]) for e in announced) == sorted(
        [(reply, "delivered"), (earlier, "delivered")]
    )
    assert {p["data"]["reason"] for p in parked} == {"number_suspended"}
    waiting = await infra.pool.fetch(
        "SELECT payload FROM router.parked WHERE phone_number_id = $1 AND reason = 'number_suspended'",
        tenant.phone_number_id,
    )
    payloads = [json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in waiting]
    waiting_statuses = [s for p in payloads for s in p["value"].get("statuses", [])]
    assert sorted((s["id"], s["status"]) for s in waiting_statuses) == sorted([(reply, "sent"), (stranger, "read")])
    assert status_inserts(statements) == 1  # one batch, in its first pass


async def test_in_a_batch_an_echo_comes_after_the_customer_messages_before_it_in_their_second(
    infra: Infrastructure, tenant: Tenant, watched: tuple[Consumer[Deps], list[str]]
) -> None:
    """Meta's timestamps are whole seconds: within one, the thread's order is the order the rows were stored in,
    and the batch stores them as each delivery alone would have, though it leaves customer messages to its end."""
    consumer, statements = watched
    second, business = int(time.time()), tenant.phone_number.lstrip("+")
    asked = text_message("¿Tienen mesa para hoy?", timestamp=second)
    greeting = {  # the Business app's instant greeting, sent by the phone in the same second
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business, "phone_number_id": tenant.phone_number_id},
        "message_echoes": [
            {
                "from": business,
                "to": asked["from"],
                "id": new_wamid(),
                "timestamp": str(second),
                "type": "text",
                "text": {"body": "¡Hola! Ya te atendemos."},
            }
        ],
    }
    followed = text_message("Somos cuatro", timestamp=second)
    field = {"object": "whatsapp_business_account", "entry": [{"id": tenant.waba_id, "changes": []}]}
    field["entry"][0]["changes"] = [{"field": "smb_message_echoes", "value": greeting}]
    deliveries = [
        raw_webhook(notification(tenant.phone_number_id, messages=[asked])),
        raw_webhook(field),
        raw_webhook(notification(tenant.phone_number_id, messages=[followed])),
    ]
    await batch_of(infra, consumer, tenant, deliveries)

    wamids = [asked["id"], greeting["message_echoes"][0]["id"], followed["id"]]
    thread = await infra.pool.fetch(
        "SELECT wamid FROM router.messages WHERE wamid = ANY($1::text[]) ORDER BY sent_at, seq", wamids
    )
    assert [r["wamid"] for r in thread] == wamids
    # The gate's message; then the batch's first message, stored before the echo, and the last at the end.
    assert inserts_into(statements, "router.messages", "'inbound'") == 3


async def test_in_a_batch_a_repeated_message_does_not_give_its_customer_an_older_name(
    infra: Infrastructure, tenant: Tenant, watched: tuple[Consumer[Deps], list[str]]
) -> None:
    consumer, _ = watched
    customer = "573019998877"
    first, second = text_message("hola", sender=customer), text_message("sigo aquí", sender=customer)
    deliveries = [
        raw_webhook(notification(tenant.phone_number_id, messages=[first], name="Ann")),
        raw_webhook(notification(tenant.phone_number_id, messages=[second], name="Annie")),  # renamed since
        raw_webhook(notification(tenant.phone_number_id, messages=[first], name="Ann")),  # Meta sends it again
    ]
    await batch_of(infra, consumer, tenant, deliveries)

    name = await infra.pool.fetchval(
        "SELECT profile_name FROM router.contacts WHERE client_id = $1 AND wa_id = $2", tenant.client_id, customer
    )
    assert name == "Annie"

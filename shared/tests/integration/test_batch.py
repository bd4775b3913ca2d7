"""The batching consumer against the real RabbitMQ and PostgreSQL: what the broker delivered is carried out in one
transaction with one round of confirmed publishes, acked after the commit; a poison delivery gets its own verdict,
never its neighbours.

Each test holds a first delivery (the gate) in its effect until the deliveries under test have all reached the
consumer, so they form the next batch whatever the timing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import WebhookParked, WebhookReceived
from shared.messaging import broker, inbox, outbox, topology, wire
from shared.messaging.batch import Batching, Outgoing
from shared.messaging.broker import Publisher
from shared.messaging.consumer import ATTEMPT_HEADER, ERROR_HEADER, Consumer, Reject, Retry, Route
from shared.messaging.runtime import Infrastructure
from tests.support.broker import CuttableLink, Tap, get_one, queue_depth, watch_acks

BATCH = 32


@dataclass
class Deps:
    pool: asyncpg.Pool
    publisher: Publisher
    table: str
    gate_entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate_open: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: Counter[str] = field(default_factory=Counter)
    failing: set[str] = field(default_factory=lambda: {"retry", "retry-tier", "crash"})  # until a test says
    memo_seen: dict[str, list[str]] = field(default_factory=dict)  # each body: what its transaction's memo held


async def effect(envelope: Envelope[WebhookReceived], deps: Deps, conn: asyncpg.Connection, out: Outgoing) -> None:
    """Writes its row (with its transaction's id) first, then does what its body says, then stages one event."""
    body = envelope.data.body
    deps.attempts[body] += 1
    seen = out.memo.setdefault("bodies", [])
    seen.append(body)
    deps.memo_seen[body] = list(seen)
    await conn.execute(f"INSERT INTO {deps.table} VALUES ($1, $2, txid_current())", envelope.id, body)
    if body == "gate":
        deps.gate_entered.set()
        await deps.gate_open.wait()
    elif body == "reject":
        raise Reject("this one can never be carried out")
    elif body.startswith("retry") and body in deps.failing:
        raise Retry("not yet", delay_s=5 if body == "retry-tier" else 1)
    elif body == "crash" and body in deps.failing:
        raise RuntimeError("a bug in this one")
    elif body == "part":  # a part PostgreSQL refuses, undone alone with what it staged; the effect goes on
        try:
            async with out.savepoint(conn):
                out.publish(
                    wrap(WebhookParked(reason="undone"), id=derived_id("undone", str(envelope.id)), correlation_id="c")
                )
                await conn.execute(f"INSERT INTO {deps.table} VALUES ($1, 'undone', txid_current())", envelope.id)
                await conn.execute("SELECT 1 / 0")
        except asyncpg.DataError:
            pass
    out.publish(wrap(WebhookParked(reason=body), id=derived_id("parked", str(envelope.id)), correlation_id="c"))


recorded = inbox.effect_per_envelope("billing")(effect)
ROUTES = {WebhookReceived.TYPE: Route(WebhookReceived, recorded, recorded.batch_effect)}


def webhook(body: str) -> Envelope[WebhookReceived]:
    return wrap(WebhookReceived(body=body, received_at=datetime.now(UTC)), correlation_id="c-batch")


@pytest.fixture
async def deps(infra: Infrastructure) -> Deps:
    table = f"public.batch_{uuid.uuid4().hex[:10]}"
    await infra.pool.execute(f"CREATE TABLE {table} (envelope_id uuid, body text, txid bigint)")
    return Deps(infra.pool, infra.publisher, table)


@pytest.fixture
async def consumer(infra: Infrastructure, deps: Deps) -> AsyncIterator[Consumer[Deps]]:
    value = Consumer("router", ROUTES, deps, infra.publisher, infra.names, batching=Batching(infra.pool, BATCH))
    yield value
    deps.gate_open.set()
    await value.stop(grace_s=10)


async def batch_behind_the_gate(
    infra: Infrastructure,
    consumer: Consumer[Deps],
    *bodies: str,
    connection: AbstractRobustConnection | None = None,
    publisher: Publisher | None = None,
) -> list[uuid.UUID]:
    """Start consuming with the gate in hand, deliver ``bodies``, open the gate: they come as one batch (published
    together: one lines group, unless ``publisher`` publishes each alone)."""
    deps = consumer.deps
    publisher = publisher or infra.publisher
    await publisher.publish(webhook("gate"))
    await consumer.start(connection or infra.connection, prefetch=2 * BATCH)
    await asyncio.wait_for(deps.gate_entered.wait(), 10)
    envelopes = [webhook(body) for body in bodies]
    await asyncio.gather(*(publisher.publish(e) for e in envelopes))
    await until(lambda: consumer.in_flight == 1 + len(bodies))
    deps.gate_open.set()
    return [e.id for e in envelopes]


async def until(condition, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def rows(deps: Deps) -> list[asyncpg.Record]:
    return await deps.pool.fetch(f"SELECT envelope_id, body, txid FROM {deps.table} WHERE body <> 'gate'")


async def settled(infra: Infrastructure, consumer: Consumer[Deps]) -> None:
    await until(lambda: consumer.in_flight == 0)
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_what_was_delivered_is_one_transaction_and_its_publishes_are_all_confirmed(
    infra: Infrastructure, tap: Tap, consumer: Consumer[Deps]
) -> None:
    ids = await batch_behind_the_gate(infra, consumer, *(f"m{i}" for i in range(20)))
    parked = await tap.wait_for("webhook.parked", count=21)
    await settled(infra, consumer)
    committed = await rows(consumer.deps)
    assert sorted(r["envelope_id"] for r in committed) == sorted(ids)
    assert len({r["txid"] for r in committed}) == 1  # twenty effects, one transaction
    assert {p["id"] for p in parked} >= {str(derived_id("parked", str(i))) for i in ids}
    assert [r["body"] for r in committed] == [f"m{i}" for i in range(20)]  # arrival order


@pytest.mark.parametrize("grouped", [False, True], ids=["one message each", "one lines group"])
async def test_a_batch_is_acked_with_one_basic_ack_and_nothing_of_it_comes_back(
    infra: Infrastructure, deps: Deps, monkeypatch: pytest.MonkeyPatch, grouped: bool
) -> None:
    acks = watch_acks(monkeypatch)
    one_each = await Publisher.open(infra.connection, infra.settings, names=infra.names, grouping=grouped)
    async with broker.connect(infra.settings, infra.names) as connection:
        consumer = Consumer("router", ROUTES, deps, infra.publisher, infra.names, batching=Batching(infra.pool, BATCH))
        bodies = (f"m{i}" for i in range(20))
        ids = await batch_behind_the_gate(infra, consumer, *bodies, connection=connection, publisher=one_each)
        await until(lambda: consumer.in_flight == 0)
        await consumer.stop(grace_s=10)
        # The gate's batch, then twenty deliveries with one ack — or the one delivery that carried all twenty.
        assert acks == ([(1, True), (2, False)] if grouped else [(1, True), (21, True)])
    # The consumer's connection is gone: anything it had not acked would be back on the queue.
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0
    assert sorted(r["envelope_id"] for r in await rows(deps)) == sorted(ids)
    await one_each.close()


async def test_the_effects_of_one_transaction_share_its_memo_and_no_other_transaction_sees_it(
    infra: Infrastructure, tap: Tap, consumer: Consumer[Deps]
) -> None:
    await batch_behind_the_gate(infra, consumer, "a", "b", "c")
    await tap.wait_for("webhook.parked", count=4)
    await settled(infra, consumer)
    assert consumer.deps.memo_seen["gate"] == ["gate"]  # a batch of its own: its memo went with it
    assert consumer.deps.memo_seen["c"] == ["a", "b", "c"]  # one batch: what "a" and "b" remembered, "c" read


async def test_a_poison_delivery_is_retried_or_dead_lettered_alone_and_its_neighbours_commit_once(
    infra: Infrastructure, tap: Tap, consumer: Consumer[Deps]
) -> None:
    bodies = ("a", "reject", "b", "retry", "c", "crash", "d")
    ids = dict(zip(bodies, await batch_behind_the_gate(infra, consumer, *bodies), strict=True))
    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    assert json.loads(dead.body)["data"]["body"] == "reject"
    assert dead.headers[ERROR_HEADER] == "this one can never be carried out"
    await until(lambda: consumer.in_flight == 0)  # the batch settled: "retry" and "crash" wait in their tiers
    consumer.deps.failing.clear()
    tried = consumer.deps.attempts["retry"], consumer.deps.attempts["crash"]
    await until(lambda: consumer.deps.attempts["retry"] > tried[0] and consumer.deps.attempts["crash"] > tried[1])
    await settled(infra, consumer)
    committed = await rows(consumer.deps)
    assert Counter(r["body"] for r in committed) == Counter({"a": 1, "b": 1, "c": 1, "d": 1, "retry": 1, "crash": 1})
    neighbours = {r["txid"] for r in committed if r["body"] in {"a", "b", "c", "d"}}
    assert len(neighbours) == 1  # the four neighbours committed together, the three others undone alone
    assert {r["txid"] for r in committed if r["body"] in {"retry", "crash"}}.isdisjoint(neighbours)
    # "a" ran in the first pass (no savepoints) that "reject" ended, then again with savepoints: committed once.
    assert [consumer.deps.attempts[b] for b in "abcd"] == [2, 1, 1, 1]
    once = await infra.pool.fetchval(
        "SELECT count(*) FROM billing.inbox WHERE envelope_id = ANY($1::uuid[])", list(ids.values())
    )
    assert once == 6  # the rejected one left no dedup record: an operator's replay is carried out
    await tap.wait_for("webhook.parked", count=7)  # the gate and the six that were carried out


async def test_a_part_of_an_effect_in_a_savepoint_is_undone_alone_and_the_batch_commits_whole(
    infra: Infrastructure, tap: Tap, consumer: Consumer[Deps]
) -> None:
    await batch_behind_the_gate(infra, consumer, "a", "part", "b")
    await tap.wait_for("webhook.parked", count=3, where=lambda e: e["data"]["reason"] in {"a", "part", "b"})
    await settled(infra, consumer)
    committed = await rows(consumer.deps)
    assert [r["body"] for r in committed] == ["a", "part", "b"]  # not "undone"
    assert len({r["txid"] for r in committed}) == 1
    # The first pass has no savepoints: the part's failure sends the batch round again with them.
    assert [consumer.deps.attempts[b] for b in ("a", "part", "b")] == [2, 2, 1]
    assert [e for e in tap.of_type("webhook.parked") if e["data"]["reason"] == "undone"] == []


async def test_a_retry_in_a_batch_goes_to_its_retry_tier(infra: Infrastructure, consumer: Consumer[Deps]) -> None:
    await batch_behind_the_gate(infra, consumer, "x", "retry-tier", "y")
    await until(lambda: consumer.in_flight == 0)
    tier = infra.names.retry_queue("router", topology.retry_tier(5))
    parked = await get_one(infra.connection, tier, timeout=2)  # taken off its tier before its 5 s are up
    assert json.loads(parked.body)["data"]["body"] == "retry-tier"
    assert parked.headers[ATTEMPT_HEADER] == 1
    assert [r["body"] for r in await rows(consumer.deps)] == ["x", "y"]


async def test_a_duplicate_delivered_in_the_same_batch_changes_nothing(
    infra: Infrastructure, consumer: Consumer[Deps]
) -> None:
    deps = consumer.deps
    await infra.publisher.publish(webhook("gate"))
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    await asyncio.wait_for(deps.gate_entered.wait(), 10)
    twice = webhook("twice")
    for _ in range(3):
        await infra.publisher.publish(twice)
    await until(lambda: consumer.in_flight == 4)
    deps.gate_open.set()
    await settled(infra, consumer)
    assert [r["body"] for r in await rows(deps)] == ["twice"]
    assert deps.attempts["twice"] == 1


async def test_a_batch_s_inbox_records_are_written_with_one_statement_unless_it_runs_again_with_savepoints(
    infra: Infrastructure, deps: Deps
) -> None:
    inbox_statements: list[str] = []

    def watch(record: asyncpg.connection.LoggedQuery) -> None:  # what the batches send, read on its way
        if "billing.inbox" in record.query:
            inbox_statements.append(record.query)

    async def init(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(watch)

    async with asyncpg.create_pool(
        infra.settings.database_url.get_secret_value(), min_size=1, max_size=2, init=init
    ) as pool:
        watched = Deps(pool, infra.publisher, deps.table)
        consumer = Consumer("router", ROUTES, watched, infra.publisher, infra.names, batching=Batching(pool, BATCH))
        try:
            await batch_behind_the_gate(infra, consumer, *(f"m{i}" for i in range(20)))
            await until(lambda: consumer.in_flight == 0)
            assert len(inbox_statements) == 2  # the gate's batch, then twenty deliveries: one statement each
            inbox_statements.clear()
            watched.gate_entered.clear()
            watched.gate_open.clear()
            await batch_behind_the_gate(infra, consumer, "x", "reject", "y")
            await until(lambda: consumer.in_flight == 0)
        finally:
            watched.gate_open.set()
            await consumer.stop(grace_s=10)
    # The gate's batch; then the batch with "reject": its first pass, undone whole, then three records alone.
    assert len(inbox_statements) == 1 + 1 + 3
    assert Counter(r["body"] for r in await rows(deps)) == Counter({**{f"m{i}": 1 for i in range(20)}, "x": 1, "y": 1})


async def test_stop_lets_the_deliveries_in_hand_commit_and_be_acked(
    infra: Infrastructure, consumer: Consumer[Deps]
) -> None:
    deps = consumer.deps
    await infra.publisher.publish(webhook("gate"))
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    await asyncio.wait_for(deps.gate_entered.wait(), 10)
    waiting = [webhook("p"), webhook("q")]
    for envelope in waiting:
        await infra.publisher.publish(envelope)
    await until(lambda: consumer.in_flight == 3)
    stopping = asyncio.create_task(consumer.stop(grace_s=10))
    await asyncio.sleep(0.3)
    assert not stopping.done()  # the gate's batch is still in hand, and two deliveries behind it
    deps.gate_open.set()
    await asyncio.wait_for(stopping, 10)
    assert sorted(r["envelope_id"] for r in await rows(deps)) == sorted(e.id for e in waiting)
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0


async def test_the_broker_going_away_mid_batch_loses_nothing(infra: Infrastructure, tap: Tap, deps: Deps) -> None:
    link = CuttableLink(infra.settings, reconnect_interval_s=0.5)
    async with link as settings:
        async with broker.connect(settings, infra.names) as connection:
            publisher = await Publisher.open(connection, settings, names=infra.names)
            deps.publisher = publisher
            consumer = Consumer("router", ROUTES, deps, publisher, infra.names, batching=Batching(infra.pool, BATCH))
            await infra.publisher.publish(webhook("gate"))
            await consumer.start(connection, prefetch=2 * BATCH)
            await asyncio.wait_for(deps.gate_entered.wait(), 10)
            envelopes = [webhook(f"m{i}") for i in range(10)]
            await asyncio.gather(*(infra.publisher.publish(e) for e in envelopes))
            await until(lambda: consumer.in_flight == 11)
            link.cut()  # the batch's effects are done in the database; its publishes and acks now fail
            deps.gate_open.set()
            expected = {str(derived_id("parked", str(e.id))) for e in envelopes}
            await until(lambda: expected <= {m["id"] for m in tap.of_type("webhook.parked")}, timeout=30)
            await until(lambda: consumer.in_flight == 0)
            await consumer.stop(grace_s=10)
    committed = await rows(deps)
    assert sorted(r["envelope_id"] for r in committed) == sorted(e.id for e in envelopes)  # each exactly once
    assert await queue_depth(infra.connection, infra.names.queue("router")) == 0
    assert await queue_depth(infra.connection, infra.names.dead_queue("router")) == 0


# The outbox mode (the router's): what the batch staged goes into router.outbox and leaves after the commit.


@pytest.fixture
async def outbox_consumer(infra: Infrastructure, deps: Deps) -> AsyncIterator[Consumer[Deps]]:
    batching = Batching(infra.pool, BATCH, outbox="router")
    value = Consumer("router", ROUTES, deps, deps.publisher, infra.names, batching=batching)
    yield value
    deps.gate_open.set()
    await value.stop(grace_s=10)


async def slow_commit(deps: Deps, body: str, seconds: float) -> None:
    """The commit of a transaction that wrote ``body`` takes ``seconds`` (a deferred trigger runs at commit)."""
    function = f"{deps.table}_slow"
    await deps.pool.execute(
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.body = '{body}' THEN PERFORM pg_sleep({seconds}); END IF; RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON {deps.table}
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {function}()"""
    )


async def test_with_an_outbox_a_batch_s_events_leave_only_once_its_rows_can_be_read(
    infra: Infrastructure, outbox_consumer: Consumer[Deps]
) -> None:
    deps = outbox_consumer.deps
    await slow_commit(deps, "slow", 0.5)  # before-commit publishes would arrive half a second ahead of the rows
    seen: dict[str, int] = {}  # each event's reason → the batch's rows a consumer could read when it arrived
    channel = await infra.connection.channel()
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(infra.names.events, WebhookParked.TYPE)

    async def observe(message) -> None:  # type: ignore[no-untyped-def]
        for event in wire.as_json_parts(message):  # the batch's events leave together: one lines group
            seen[event["data"]["reason"]] = len(await rows(deps))
        await message.ack()

    await queue.consume(observe)
    bodies = ["slow", *(f"m{i}" for i in range(9))]
    ids = await batch_behind_the_gate(infra, outbox_consumer, *bodies)
    await until(lambda: set(bodies) <= set(seen))
    await settled(infra, outbox_consumer)
    assert {body: seen[body] for body in bodies} == dict.fromkeys(bodies, len(bodies))
    committed = await rows(deps)
    assert len({r["txid"] for r in committed}) == 1
    left = [derived_id("parked", str(i)) for i in ids]
    assert await infra.pool.fetchval("SELECT count(*) FROM router.outbox WHERE id = ANY($1::uuid[])", left) == 0
    await channel.close()


async def test_with_an_outbox_what_the_broker_refuses_after_the_commit_is_left_to_the_relay(
    infra: Infrastructure, tap: Tap, deps: Deps
) -> None:
    broken = await Publisher.open(infra.connection, infra.settings)
    await broken.close()  # as if the broker had gone away once the batch's transaction is done
    deps.publisher = broken
    consumer = Consumer(
        "router", ROUTES, deps, broken, infra.names, batching=Batching(infra.pool, BATCH, outbox="router")
    )
    envelopes = [webhook(f"kept {i}") for i in range(5)]
    await asyncio.gather(*(infra.publisher.publish(e) for e in envelopes))
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    try:
        await until(lambda: consumer.in_flight == 0 and len(consumer.deps.attempts) == 5)
        await settled(infra, consumer)  # committed and acked: the deliveries are done, not redone
    finally:
        await consumer.stop(grace_s=10)
    assert sorted(r["envelope_id"] for r in await rows(deps)) == sorted(e.id for e in envelopes)
    assert sum(deps.attempts.values()) == 5
    left = [derived_id("parked", str(e.id)) for e in envelopes]
    assert await infra.pool.fetchval("SELECT count(*) FROM router.outbox WHERE id = ANY($1::uuid[])", left) == 5
    assert tap.of_type("webhook.parked") == []
    assert await outbox.relay_once(infra.pool, infra.publisher, "router", min_age_s=0) >= 5
    relayed = await tap.wait_for("webhook.parked", count=5, where=lambda e: e["data"]["reason"].startswith("kept"))
    assert sorted(e["id"] for e in relayed) == sorted(str(i) for i in left)
    assert await infra.pool.fetchval("SELECT count(*) FROM router.outbox WHERE id = ANY($1::uuid[])", left) == 0


async def publish_group(infra: Infrastructure, *bodies: str) -> list[wire.Part]:
    """The bodies as the gateway's group commit publishes webhooks that arrived together: one message."""
    parts = [wire.Part(b.encode(), str(uuid.uuid4()), 1_764_662_400_000_000 + i) for i, b in enumerate(bodies)]
    lane = infra.publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND)
    await lane.publish(b"".join(p.body for p in parts), wire.group_properties(parts, group_id=str(uuid.uuid4())))
    return parts


async def test_a_group_of_webhooks_is_one_delivery_per_webhook_each_with_its_own_verdict(
    infra: Infrastructure, tap: Tap, consumer: Consumer[Deps]
) -> None:
    deps = consumer.deps
    await infra.publisher.publish(webhook("gate"))
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    await asyncio.wait_for(deps.gate_entered.wait(), 10)
    parts = await publish_group(infra, "a", "reject", "b", "retry", "c")
    await until(lambda: consumer.in_flight == 1 + len(parts))  # the group came as five deliveries
    deps.gate_open.set()

    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    assert dead.body == b"reject" and not wire.is_group(dead)  # dead-lettered alone, as a plain publish of it
    assert dead.message_id == parts[1].envelope_id and dead.headers[ERROR_HEADER] == "this one can never be carried out"
    await until(lambda: consumer.in_flight == 0)
    deps.failing.clear()
    await until(lambda: deps.attempts["retry"] == 2)  # back alone from its retry tier, carried out
    await settled(infra, consumer)  # the group itself acked: nothing of it left on the queue
    committed = await rows(deps)
    assert Counter(r["body"] for r in committed) == Counter({"a": 1, "b": 1, "c": 1, "retry": 1})
    assert len({r["txid"] for r in committed if r["body"] in "abc"}) == 1  # its neighbours, one transaction
    by_body = {r["body"]: str(r["envelope_id"]) for r in committed}
    assert [by_body[b] for b in ("a", "b", "c", "retry")] == [parts[i].envelope_id for i in (0, 2, 4, 3)]


async def test_a_consumer_without_batches_takes_a_group_webhook_by_webhook(infra: Infrastructure, deps: Deps) -> None:
    deps.gate_open.set()
    value = Consumer("router", ROUTES, deps, infra.publisher, infra.names)
    await value.start(infra.connection, prefetch=8)
    try:
        parts = await publish_group(infra, "a", "reject", "b")
        dead = await get_one(infra.connection, infra.names.dead_queue("router"))
        assert dead.body == b"reject" and dead.message_id == parts[1].envelope_id
        await until(lambda: value.in_flight == 0)
        assert await queue_depth(infra.connection, infra.names.queue("router")) == 0
        assert Counter(r["body"] for r in await rows(deps)) == Counter({"a": 1, "b": 1})
    finally:
        await value.stop(grace_s=10)


async def test_a_group_whose_headers_do_not_add_up_is_dead_lettered_whole_as_it_came(
    infra: Infrastructure, consumer: Consumer[Deps]
) -> None:
    consumer.deps.gate_open.set()
    parts = [wire.Part(b"a", str(uuid.uuid4()), 1), wire.Part(b"b", str(uuid.uuid4()), 2)]
    properties = wire.group_properties(parts, group_id=str(uuid.uuid4()))
    properties.headers = {**(properties.headers or {}), wire.PART_BYTES_HEADER: [1, 5]}
    await infra.publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND).publish(b"ab", properties)
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    assert dead.body == b"ab" and wire.is_group(dead) and "invalid webhook.received" in dead.headers[ERROR_HEADER]
    await settled(infra, consumer)
    assert await rows(consumer.deps) == []


async def test_a_lines_group_is_one_delivery_per_envelope_each_with_its_own_verdict(
    infra: Infrastructure, consumer: Consumer[Deps]
) -> None:
    deps = consumer.deps
    # Published together: one lines group, which came as five deliveries.
    ids = await batch_behind_the_gate(infra, consumer, "a", "reject", "b", "retry", "c")

    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    assert not wire.is_group(dead) and dead.content_type == wire.JSON_TYPE  # dead-lettered alone, as a plain publish
    assert json.loads(dead.body)["id"] == str(ids[1]) == dead.message_id
    assert dead.correlation_id == "c-batch" and dead.headers[ERROR_HEADER] == "this one can never be carried out"
    await until(lambda: consumer.in_flight == 0)
    deps.failing.clear()
    await until(lambda: deps.attempts["retry"] == 2)  # back alone from its retry tier, carried out
    await settled(infra, consumer)  # the group itself acked: nothing of it left on the queue
    committed = await rows(deps)
    assert Counter(r["body"] for r in committed) == Counter({"a": 1, "b": 1, "c": 1, "retry": 1})
    assert len({r["txid"] for r in committed if r["body"] in "abc"}) == 1  # its neighbours, one transaction
    by_body = {r["body"]: r["envelope_id"] for r in committed}
    assert [by_body[b] for b in ("a", "b", "c", "retry")] == [ids[i] for i in (0, 2, 4, 3)]


async def test_an_unreadable_line_of_a_lines_group_is_dead_lettered_alone(
    infra: Infrastructure, consumer: Consumer[Deps]
) -> None:
    consumer.deps.gate_open.set()
    good = webhook("a")
    first = broker.json_properties(good)
    body = b"\n".join([good.model_dump_json().encode(), b'{"not": "an envelope"}'])
    properties = wire.lines_properties(first, 2, group_id=str(uuid.uuid4()))
    await infra.publisher.lane(WebhookReceived.TYPE, WebhookReceived.KIND).publish(body, properties)
    await consumer.start(infra.connection, prefetch=2 * BATCH)
    dead = await get_one(infra.connection, infra.names.dead_queue("router"))
    assert dead.body == b'{"not": "an envelope"}' and "not a wamux envelope" in dead.headers[ERROR_HEADER]
    assert not wire.is_group(dead) and dead.type == WebhookReceived.TYPE
    await settled(infra, consumer)
    assert [(r["envelope_id"], r["body"]) for r in await rows(consumer.deps)] == [(good.id, "a")]

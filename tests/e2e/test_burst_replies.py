"""Bursts within one second, the whole way through: each customer message is answered exactly once, and a burst
written within milliseconds gets one reply. Meta's timestamps are whole seconds, so the order inside a second
is the router's, never Meta's."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from launcher.stack import Stack
from shared.logging import wamid_hash
from tests.e2e.test_message_path import eventually, signed
from tests.support.payloads import body, new_wamid, notification, text_message
from tests.support.tenants import Tenant, create_tenant

pytestmark = pytest.mark.e2e
CUSTOMERS = 100
PACE_S = 0.15
NUMBERS = 5  # spread over several client numbers, each far below Meta's 80 messages/s
# What the ai-worker logs once it has decided what to do with a message (whatever the code's version).
DECIDED = frozenset({"reply.written", "reply.coalesced", "reply.already_answered", "reply.paused"})


@dataclass(frozen=True)
class Burst:
    tenant: Tenant
    customer: str
    gap_ms: int
    wamids: tuple[str, ...]
    texts: tuple[str, ...]


def bursts(tenants: list[Tenant]) -> list[Burst]:
    """Two or three messages per customer, all stamped with the same second, 0 to 10 ms apart."""
    made = []
    for i in range(CUSTOMERS):
        size = 2 + i % 2
        made.append(
            Burst(
                tenant=tenants[i % NUMBERS],
                customer=f"5731{i:08d}",
                gap_ms=i % 11,
                wamids=tuple(new_wamid() for _ in range(size)),
                texts=tuple(f"cliente {i}, mensaje {k}" for k in range(size)),
            )
        )
    return made


async def post_burst(session: aiohttp.ClientSession, stack: Stack, burst: Burst, at: int) -> None:
    """Each message its own signed webhook, started ``gap_ms`` after the previous one (not after its answer)."""

    async def post(k: int) -> int:
        # The sleep is the burst's spacing (the input under test), not a wait for an outcome.
        await asyncio.sleep(k * burst.gap_ms / 1000)
        message = text_message(burst.texts[k], sender=burst.customer, wamid=burst.wamids[k], timestamp=at)
        raw = body(notification(burst.tenant.phone_number_id, messages=[message]))
        async with session.post(f"{stack.gateway_url}/webhook/whatsapp", data=raw, headers=signed(raw)) as answer:
            return answer.status

    assert await asyncio.gather(*(post(k) for k in range(len(burst.wamids)))) == [200] * len(burst.wamids)


def decisions(stack: Stack) -> dict[str, set[str]]:
    """wamid (as logs name it: ``wamid_hash``) → what the ai-worker decided for it, from its structured log."""
    decided: dict[str, set[str]] = defaultdict(set)
    for line in stack.log("ai-worker").read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # not a log event, or the line being written
        if isinstance(event, dict) and event.get("event") in DECIDED and "wamid" in event:
            decided[event["wamid"]].add(event["event"])
    return decided


async def outboxes(session: aiohttp.ClientSession, stack: Stack, tenants: list[Tenant]) -> dict[str, list[Any]]:
    """customer → what the emulated Meta accepted for them, in arrival order."""
    sent: dict[str, list[Any]] = defaultdict(list)
    for tenant in tenants:
        async with session.get(
            f"{stack.env['WAMUX_GRAPH_BASE_URL']}/_sandbox/outbox", params={"phone_number_id": tenant.phone_number_id}
        ) as answer:
            for entry in await answer.json():
                sent[entry["to"]].append(entry)
    return sent


async def ledger_answers(database_url: str, tenants: list[Tenant]) -> dict[str, set[str]]:
    """send id → the customer messages the ai-worker's ledger says that reply answers."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """SELECT r.id, a.wamid FROM ai_worker.replies r JOIN ai_worker.answers a ON a.reply_id = r.id
                WHERE r.client_id = ANY($1::uuid[]) AND r.kind = 'reply'""",
            [t.client_id for t in tenants],
        )
    finally:
        await conn.close()
    answers: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        answers[str(row["id"])].add(row["wamid"])
    return answers


async def test_every_same_second_burst_of_100_customers_gets_one_reply_and_no_text_twice(
    stack: Stack, database_url: str
) -> None:
    tenants = [await create_tenant(database_url) for _ in range(NUMBERS)]
    at = int(time.time())
    made = bursts(tenants)
    async with aiohttp.ClientSession() as session:
        # Customer after customer, PACE_S apart and without waiting for anyone's reply: the platform is mostly idle
        # when a burst arrives, as it is for most real customers (a loaded one happens to coalesce more).
        started = asyncio.get_running_loop().time()
        posting = []
        for i, burst in enumerate(made):
            await asyncio.sleep(max(0.0, started + i * PACE_S - asyncio.get_running_loop().time()))
            posting.append(asyncio.create_task(post_burst(session, stack, burst, at)))
        await asyncio.gather(*posting)
        every_wamid = {wamid_hash(w) for b in made for w in b.wamids}

        async def all_decided() -> bool:
            return every_wamid <= decisions(stack).keys()

        await eventually(all_decided, "a decision for every message", 120)
        written = sum(1 for d in decisions(stack).values() if "reply.written" in d)

        async def all_sent() -> dict[str, list[Any]] | None:
            sent = await outboxes(session, stack, tenants)
            return sent if sum(len(v) for v in sent.values()) >= written else None

        sent = await eventually(all_sent, "every written reply at the emulator", 60)

    replies_per_customer = Counter({b.customer: len(sent.get(b.customer, [])) for b in made})
    twice = [b for b in made if replies_per_customer[b.customer] > 1]
    same_text = [b for b in made if len({e["text"] for e in sent.get(b.customer, [])}) < len(sent.get(b.customer, []))]
    print(
        f"\nbursts: {len(made)}; customers with more than one reply: {len(twice)} "
        f"(by gap ms: {dict(sorted(Counter(b.gap_ms for b in twice).items()))}); "
        f"customers with the same text twice: {len(same_text)} "
        f"(by gap ms: {dict(sorted(Counter(b.gap_ms for b in same_text).items()))}); "
        f"unanswered: {sum(1 for b in made if not sent.get(b.customer))}"
    )
    assert not same_text, "a customer got the same answer twice"
    assert not twice, "a burst got more than one reply"
    answers = await ledger_answers(database_url, tenants)
    for burst in made:
        (reply,) = sent[burst.customer]
        # The reply is threaded to the burst's newest message as the router ordered it, and the sandbox's model
        # quotes the last customer turn of the prompt: that same message (the others came before it, once each).
        newest = burst.wamids.index(reply["request"]["context"]["message_id"])
        assert reply["text"].endswith(f" Re: {burst.texts[newest]}")
        assert answers[reply["request"]["biz_opaque_callback_data"]] == set(burst.wamids)

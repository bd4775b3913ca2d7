"""The broker topology: exchanges, one durable quorum queue per consumer role, retry and dead-letter queues.

Declared idempotently by every process at start-up, so whichever starts first creates it. The arguments of
a queue cannot change once declared (RabbitMQ answers PRECONDITION_FAILED): change them with a new name.

    {p}.events   (topic)   facts, routing key = event type        ─┐
    {p}.commands (topic)   requests, routing key = command type    ├─▶ {p}.<role>            (quorum)
    {p}.dlx      (direct)  dead letters, routing key = role queue  ─┘     │ Retry(delay)
                                                                          ▼
                                            {p}.<role>.retry.<N>s (TTL N s, then back to {p}.<role>)
                                            {p}.<role>.dead        (poison messages, for an operator)

    {p}.commands ──(no binding for the key: alternate exchange)──▶ {p}.commands.unrouted (fanout)
                                                                  ──▶ {p}.commands.unrouted (quorum; the directory
                                                                      answers each with command.rejected)

An exchange's arguments cannot change either: a ``{p}.commands`` declared before it had an alternate exchange is
kept as it is, and :func:`declare` logs the ``rabbitmqctl set_policy`` line that gives it one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel, AbstractExchange
from aiormq.exceptions import ChannelPreconditionFailed

from shared.contracts import roles as contract
from shared.contracts.roles import Role
from shared.logging import get_logger

log = get_logger(__name__)

# Retry delays a consumer may ask for; a requested delay is rounded up to the next tier.
RETRY_TIERS_S: tuple[int, ...] = (1, 5, 30, 120, 600)
# Redeliveries (crashes, nacks) before RabbitMQ dead-letters a message by itself.
DELIVERY_LIMIT = 10


@dataclass(frozen=True)
class Binding:
    exchange: str  # "events" or "commands"
    routing_key: str


@dataclass(frozen=True)
class Topology:
    prefix: str = "wamux"

    @property
    def events(self) -> str:
        return f"{self.prefix}.events"

    @property
    def commands(self) -> str:
        return f"{self.prefix}.commands"

    @property
    def unrouted(self) -> str:
        """The commands exchange's alternate exchange, and the queue bound to it: commands nobody consumes."""
        return f"{self.prefix}.commands.unrouted"

    @property
    def dlx(self) -> str:
        return f"{self.prefix}.dlx"

    def queue(self, role: str) -> str:
        return f"{self.prefix}.{role}"

    def dead_queue(self, role: str) -> str:
        return f"{self.queue(role)}.dead"

    def retry_queue(self, role: str, delay_s: int) -> str:
        return f"{self.queue(role)}.retry.{delay_s}s"

    def exchange_for(self, kind: str) -> str:
        return self.commands if kind == "command" else self.events


def _bindings(role: Role) -> tuple[Binding, ...]:
    return tuple(Binding("commands" if m.KIND == "command" else "events", m.TYPE) for m in role.consumes)


# A queue per role that consumes something, bound to what it consumes: derived from the contract table
# (shared/contracts/roles.py), never written by hand. The CRM binds queues of its own to the events exchange.
ROLES: dict[str, tuple[Binding, ...]] = {
    name: _bindings(role) for name, role in contract.ROLES.items() if role.consumes and not role.outside
}


# Types some wamux service consumes: publishing one that no queue takes is an error, not a broadcast to nobody.
CONSUMED_TYPES: frozenset[str] = frozenset(b.routing_key for bindings in ROLES.values() for b in bindings)


def work_queue_arguments(topology: Topology, role: str) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": topology.dlx,
        "x-dead-letter-routing-key": topology.queue(role),
    }


def retry_tier(delay_s: float) -> int:
    return next((tier for tier in RETRY_TIERS_S if tier >= delay_s), RETRY_TIERS_S[-1])


async def declare(channel: AbstractChannel, topology: Topology) -> None:
    events = await channel.declare_exchange(topology.events, ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(topology.dlx, ExchangeType.DIRECT, durable=True)
    commands = await _declare_commands(channel, topology)
    exchanges = {"events": events, "commands": commands}
    for role, bindings in ROLES.items():
        name = topology.queue(role)
        queue = await channel.declare_queue(name, durable=True, arguments=work_queue_arguments(topology, role))
        for binding in bindings:
            await queue.bind(exchanges[binding.exchange], binding.routing_key)
        dead = await channel.declare_queue(
            topology.dead_queue(role), durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(dlx, name)
        for delay_s in RETRY_TIERS_S:
            await channel.declare_queue(
                topology.retry_queue(role, delay_s),
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-message-ttl": delay_s * 1000,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": name,
                },
            )


def set_policy_command(topology: Topology) -> str:
    """The operator's line that gives an existing commands exchange its alternate exchange."""
    pattern = f"^{re.escape(topology.commands)}$"
    return (
        f"rabbitmqctl set_policy --apply-to exchanges {topology.prefix}-commands-unrouted '{pattern}' "
        f'\'{{"alternate-exchange":"{topology.unrouted}"}}\''
    )


async def _declare_commands(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    unrouted = await channel.declare_exchange(topology.unrouted, ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(topology.unrouted, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(unrouted)
    try:
        return await channel.declare_exchange(
            topology.commands, ExchangeType.TOPIC, durable=True, arguments={"alternate-exchange": topology.unrouted}
        )
    except ChannelPreconditionFailed:
        # Declared before it had an alternate exchange (RabbitMQ closed the channel): keep it, and say how to add
        # one without a restart — a policy applies to an existing exchange; an argument cannot.
        await channel.reopen()
        log.warning(
            "topology.commands_without_alternate_exchange",
            exchange=topology.commands,
            consequence="a command nobody consumes is dropped instead of answered with command.rejected",
            fix=set_policy_command(topology),
        )
        return await channel.declare_exchange(topology.commands, ExchangeType.TOPIC, durable=True, passive=True)


async def delete(channel: AbstractChannel, topology: Topology) -> None:
    """Remove a topology (tests use a random prefix per run and clean up after themselves)."""
    for role in ROLES:
        for name in (
            topology.queue(role),
            topology.dead_queue(role),
            *(topology.retry_queue(role, d) for d in RETRY_TIERS_S),
        ):
            await channel.queue_delete(name, if_unused=False, if_empty=False)
    await channel.queue_delete(topology.unrouted, if_unused=False, if_empty=False)
    for exchange in (topology.events, topology.commands, topology.dlx, topology.unrouted):
        await channel.exchange_delete(exchange)

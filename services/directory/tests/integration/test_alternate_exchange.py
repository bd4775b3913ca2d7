"""The commands exchange's alternate exchange, on a fresh deployment and on one whose ``{p}.commands`` was declared
before it existed (RabbitMQ refuses to change an exchange's arguments)."""

from __future__ import annotations

import aio_pika
import pytest
from aio_pika import ExchangeType
from structlog.testing import capture_logs

from shared.messaging import broker, topology
from shared.settings import Settings
from tests.support.broker import get_one


async def test_on_a_fresh_prefix_a_command_nobody_consumes_lands_in_the_unrouted_queue(settings: Settings) -> None:
    names = topology.Topology(settings.broker_prefix)
    async with broker.connect(settings, names) as connection:
        try:
            async with connection.channel() as channel:
                commands = await channel.get_exchange(names.commands, ensure=False)
                await commands.publish(aio_pika.Message(b"{}"), "number.teleport")
            message = await get_one(connection, names.unrouted)
            assert message.routing_key == "number.teleport" and message.body == b"{}"
        finally:
            async with connection.channel() as channel:
                await topology.delete(channel, names)


async def test_an_existing_commands_exchange_without_one_is_kept_and_the_operator_told_the_policy(
    settings: Settings,
) -> None:
    names = topology.Topology(settings.broker_prefix)
    connection = await aio_pika.connect_robust(settings.amqp_url.get_secret_value())
    try:
        async with connection.channel() as channel:
            await channel.declare_exchange(names.commands, ExchangeType.TOPIC, durable=True)  # as before issue 8
        with capture_logs() as logs:
            async with connection.channel() as channel:
                await topology.declare(channel, names)
                # The channel is usable afterwards and everything else was declared.
                await channel.declare_queue(names.queue("directory"), passive=True)
                await channel.declare_queue(names.unrouted, passive=True)
        (warning,) = [e for e in logs if e["event"] == "topology.commands_without_alternate_exchange"]
        assert warning["log_level"] == "warning"
        assert warning["fix"] == topology.set_policy_command(names)
        assert f'"alternate-exchange":"{names.unrouted}"' in warning["fix"]
    finally:
        async with connection.channel() as channel:
            await topology.delete(channel, names)
        await connection.close()


@pytest.mark.parametrize("prefix", ["wamux", "acme.prod"])
def test_the_policy_line_matches_only_the_commands_exchange(prefix: str) -> None:
    line = topology.set_policy_command(topology.Topology(prefix))
    assert line.startswith("rabbitmqctl set_policy --apply-to exchanges ")
    assert "'^" + prefix.replace(".", "\\.") + "\\.commands$'" in line

"""A directory that dies in the middle of an onboarding — after Meta answered a call, before the outcome was
committed — leaves the step to be made again: the redelivered step message resumes the onboarding at that step,
with the same PIN, and it ends active once, announced once. The directory's queue is pumped by hand here (no
running service), so the crash happens exactly where the test says."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from directory.__main__ import ROUTES
from directory.answers import Deps
from directory.handlers import create_client
from directory.onboarding.commands import register_number, request_code, verify_code
from shared.contracts.directory import ClientCreate, NumberRegister, NumberRequestCode, NumberVerifyCode
from shared.contracts.envelope import Envelope, EnvelopeHeader, Payload, wrap
from shared.messaging.broker import PublishFailed
from shared.messaging.runtime import Infrastructure
from shared.settings import Settings
from tests.support.broker import Tap, get_one, queue_depth
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number


class _DyingPublisher:
    """The process is killed as it announces the outcome: nothing of the step's transaction is committed."""

    async def publish(self, envelope: Envelope[Any]) -> None:
        raise PublishFailed("disconnected", "the directory was killed")

    publish_later = publish


def command(data: Payload) -> Envelope[Any]:
    return wrap(data, correlation_id="c-crash")


async def next_step(infra: Infrastructure[Settings]) -> Envelope[Any]:
    """The next message the directory's queue holds (its own step messages), as the consumer would read it."""
    message = await get_one(infra.connection, infra.names.queue("directory"))
    header = EnvelopeHeader.model_validate_json(message.body)
    return Envelope[ROUTES[header.type].model].model_validate_json(message.body)  # type: ignore[name-defined]


async def test_a_crash_after_meta_registered_the_number_resumes_at_the_register_step(
    deps: Deps, infra: Infrastructure[Settings], tap: Tap, sandbox: Sandbox
) -> None:
    client_id = uuid.uuid4()
    await create_client(command(ClientCreate(client_id=client_id, name="Ferretería Sol")), deps)
    onboarding_id = uuid.uuid4()
    register = NumberRegister(
        onboarding_id=onboarding_id, client_id=client_id, phone_number=random_phone_number(), method="manual"
    )
    await register_number(command(register), deps)
    await ROUTES["onboarding.step"].handler(await next_step(infra), deps)  # add_phone_number
    await request_code(command(NumberRequestCode(onboarding_id=onboarding_id)), deps)
    await ROUTES["onboarding.step"].handler(await next_step(infra), deps)  # request_code
    pnid = await infra.pool.fetchval("SELECT phone_number_id FROM directory.onboardings WHERE id = $1", onboarding_id)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.graph_url}/_sandbox/phone_numbers/{pnid}") as r,
    ):
        sms = (await r.json())["last_code"]
    await verify_code(command(NumberVerifyCode(onboarding_id=onboarding_id, code=sms)), deps)
    await ROUTES["onboarding.step"].handler(await next_step(infra), deps)  # verify_code

    register_step = await next_step(infra)
    assert register_step.data.step == "register"
    with pytest.raises(PublishFailed):
        await ROUTES["onboarding.step"].handler(register_step, replace(deps, publisher=_DyingPublisher()))  # type: ignore[arg-type]
    state = await infra.pool.fetchrow("SELECT state, step FROM directory.onboardings WHERE id = $1", onboarding_id)
    assert tuple(state) == ("code_verified", "register")  # Meta registered the number; wamux kept nothing of it
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.graph_url}/_sandbox/phone_numbers/{pnid}") as r,
    ):
        assert (await r.json())["registered"]

    # The broker redelivers the unacked step to the restarted directory: register again (the same PIN, kept
    # before the call), then read back, active.
    await ROUTES["onboarding.step"].handler(register_step, deps)
    await ROUTES["onboarding.step"].handler(await next_step(infra), deps)  # read_number
    await tap.drained()
    assert await queue_depth(infra.connection, infra.names.queue("directory")) == 0
    final = await infra.pool.fetchrow("SELECT state, step FROM directory.onboardings WHERE id = $1", onboarding_id)
    assert tuple(final) == ("active", "done")
    assert [m["data"]["phone_number_id"] for m in tap.of_type("number.activated")] == [pnid]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.graph_url}/_sandbox/phone_numbers/{pnid}") as r,
    ):
        assert (await r.json())["register_requests"] == 2  # made twice, with the same PIN: Meta accepted both

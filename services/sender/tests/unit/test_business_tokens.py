"""A number whose client gave wamux its business token sends with that token, not the system user's; when Meta
rejects it (190), the message fails, the number's token is announced rejected once, and the token is dropped.

The tokens are the emulator's own, obtained as a partner obtains them (its signup page, then the code exchange),
and revoked through its sandbox control; the sender runs with the Deps its own ``bootstrap()`` builds. The
system-user token the sender is given is wrong in most tests: a message that leaves proves the business token
carried it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from pydantic import SecretStr
from yarl import URL

from sender.handlers import Deps, mark_read, send
from sender.tokens import NumberTokens
from shared import secretbox
from shared.contracts.envelope import Envelope, derived_id, wrap
from shared.contracts.messages import MarkRead, SendMessage
from shared.messaging.consumer import Retry
from shared.secretbox import KeyRing
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant, give_business_token

SenderDeps = Callable[..., AbstractAsyncContextManager[Deps]]  # the ``sender_deps`` fixture
MakeTenant = Callable[..., Awaitable[Tenant]]
APP_ID, CONFIG_ID, APP_SECRET = "1000000000000001", "2000000000000002", "test-app-secret"  # the sandbox fixture's
KEYS = secretbox.new_key_setting("k1")
CUSTOMER = "573001112233"


@dataclass(frozen=True)
class Signed:
    """What a client's Embedded Signup left with the partner: its WABA, its number, a business token."""

    waba_id: str
    phone_number_id: str
    token: str


async def sign_up(sandbox: Sandbox, *, again: Signed | None = None) -> Signed:
    """The emulator's signup page accepted, its code exchanged for a business token, the number registered.
    ``again``: the same client signs up again (its number pre-filled): a new token for the same WABA."""
    form = {"app_id": APP_ID, "config_id": CONFIG_ID, "redirect_uri": "https://crm.example/done"}
    async with aiohttp.ClientSession() as http:
        if again is not None:
            async with http.get(f"{sandbox.graph_url}/_sandbox/phone_numbers/{again.phone_number_id}") as response:
                number = await response.json()
            phone = {"code": number["cc"], "number": number["phone_number"]}
            form["extras"] = json.dumps({"setup": {"business": {"phone": phone}}})
        signup = f"{sandbox.graph_url}/messaging/whatsapp/onboard/"
        async with http.post(signup, data=form, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
            result = dict(URL(response.headers["Location"]).query)
        params = {"client_id": APP_ID, "client_secret": APP_SECRET, "code": result["code"]}
        async with http.get(f"{sandbox.graph_url}/v23.0/oauth/access_token", params=params) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        if again is None:  # a new number goes live on the Cloud API once registered, as the directory does it
            register = f"{sandbox.graph_url}/v23.0/{result['phone_number_id']}/register"
            headers = {"Authorization": f"Bearer {token}"}
            body = {"messaging_product": "whatsapp", "pin": "123456"}
            async with http.post(register, json=body, headers=headers) as response:
                assert response.status == 200, await response.text()
    return Signed(result["waba_id"], result["phone_number_id"], token)


async def revoke(sandbox: Sandbox, token: str) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sandbox.graph_url}/_sandbox/tokens/revoke", json={"access_token": token}) as response,
    ):
        assert response.status == 200, await response.text()


RING = KeyRing.from_setting(SecretStr(KEYS))


async def client_with_token(sandbox: Sandbox, make_tenant: MakeTenant, deps: Deps) -> tuple[Tenant, Signed]:
    """A client signed up through the emulator, its number in the directory, its business token given to wamux."""
    signed = await sign_up(sandbox)
    tenant = await make_tenant(phone_number_id=signed.phone_number_id, waba_id=signed.waba_id)
    await give_business_token(deps.pool, RING, signed.waba_id, signed.token)
    return tenant, signed


def command(tenant: Tenant, text: str = "Hola") -> Envelope[SendMessage]:
    return wrap(
        SendMessage(
            client_id=tenant.client_id,
            phone_number_id=tenant.phone_number_id,
            to=CUSTOMER,
            text=text,
            customer_last_message_at=datetime.now(UTC),
        ),
        correlation_id=f"corr-{uuid.uuid4().hex[:8]}",
        tenant_id=tenant.client_id,
    )


async def texts(sandbox: Sandbox, tenant: Tenant) -> list[str]:
    return [m["text"] for m in await sandbox.outbox(phone_number_id=tenant.phone_number_id)]


async def test_a_number_with_a_business_token_sends_with_it_where_the_system_token_would_be_refused(
    sender_deps: SenderDeps, sandbox: Sandbox, tap: Tap, make_tenant: MakeTenant
) -> None:
    async with sender_deps(graph_token="not-the-system-token", credential_keys=KEYS) as deps:
        tenant, _ = await client_with_token(sandbox, make_tenant, deps)
        other = await make_tenant()  # no business token: the (wrong) system-user token, held as today
        await send(command(tenant, "con el token del cliente"), deps)
        with pytest.raises(Retry, match="token rejected"):
            await send(command(other), deps)
    (sent,) = await tap.wait_for("message.sent")
    assert sent["data"]["phone_number_id"] == tenant.phone_number_id
    assert await texts(sandbox, tenant) == ["con el token del cliente"]
    assert await texts(sandbox, other) == []


async def test_read_receipts_of_such_a_number_go_with_its_business_token_too(
    sender_deps: SenderDeps, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    async with sender_deps(graph_token="not-the-system-token", credential_keys=KEYS) as deps:
        tenant, _ = await client_with_token(sandbox, make_tenant, deps)
        read = MarkRead(client_id=tenant.client_id, phone_number_id=tenant.phone_number_id, wamid="wamid.in-biz")
        await mark_read(wrap(read, correlation_id="corr-read", tenant_id=tenant.client_id), deps)
    (marked,) = await sandbox.reads(phone_number_id=tenant.phone_number_id)
    assert marked["message_id"] == "wamid.in-biz"


async def test_a_revoked_business_token_fails_the_message_and_announces_the_number_s_token_once(
    sender_deps: SenderDeps, sandbox: Sandbox, tap: Tap, make_tenant: MakeTenant
) -> None:
    async with sender_deps(credential_keys=KEYS) as deps:  # a valid system-user token: never fallen back on
        tenant, signed = await client_with_token(sandbox, make_tenant, deps)
        await revoke(sandbox, signed.token)
        first, second = command(tenant, "uno"), command(tenant, "dos")
        await send(first, deps)  # no Retry: failed for good, not held like the system token's 190
        await send(second, deps)
        await send(first, deps)  # redelivered: already failed, nothing more

    failed = await tap.wait_for("message.failed", count=2)
    assert {f["data"]["send_id"] for f in failed} == {str(first.id), str(second.id)}
    assert {f["data"]["error_code"] for f in failed} == {190}
    assert all("connect the number again" in f["data"]["error_title"] for f in failed)
    await tap.drained()
    rejected = tap.of_type("number.token_rejected")
    assert len({r["id"] for r in rejected}) == 1  # one event in effect: the same id for the same token
    event = rejected[0]
    fingerprint = secretbox.fingerprint(SecretStr(signed.token))
    assert event["id"] == str(derived_id("number.token_rejected", tenant.phone_number_id, fingerprint))
    assert event["tenant_id"] == str(tenant.client_id) and event["correlation_id"] == first.correlation_id
    assert event["data"]["client_id"] == str(tenant.client_id) and event["data"]["code"] == 190
    assert signed.token not in json.dumps(tap.messages)
    assert await texts(sandbox, tenant) == []


async def test_a_token_is_read_once_a_minute_and_a_rejected_one_is_dropped_at_once_for_the_renewed_one(
    sender_deps: SenderDeps, sandbox: Sandbox, tap: Tap, make_tenant: MakeTenant
) -> None:
    async with sender_deps(graph_token="not-the-system-token", credential_keys=KEYS) as deps:
        tenant, old = await client_with_token(sandbox, make_tenant, deps)
        await send(command(tenant, "uno"), deps)
        renewed = await sign_up(sandbox, again=old)  # the client signed up again: a new token for its WABA
        assert renewed.waba_id == old.waba_id and renewed.token != old.token
        await give_business_token(deps.pool, RING, renewed.waba_id, renewed.token)
        await send(command(tenant, "dos"), deps)  # still the remembered (old, valid) token
        await revoke(sandbox, old.token)
        await send(command(tenant, "tres"), deps)  # Meta refuses the remembered token: dropped
        await send(command(tenant, "cuatro"), deps)  # read again: the renewed token
    assert await texts(sandbox, tenant) == ["uno", "dos", "cuatro"]
    (rejected,) = await tap.wait_for("number.token_rejected")
    fingerprint = secretbox.fingerprint(SecretStr(old.token))
    assert rejected["id"] == str(derived_id("number.token_rejected", tenant.phone_number_id, fingerprint))


async def test_a_token_the_sender_cannot_open_holds_the_message_and_names_the_setting(
    sender_deps: SenderDeps, sandbox: Sandbox, tap: Tap, make_tenant: MakeTenant
) -> None:
    async with sender_deps(credential_keys=secretbox.new_key_setting("other")) as deps:
        tenant, signed = await client_with_token(sandbox, make_tenant, deps)  # sealed under k1
        with pytest.raises(Retry, match="WAMUX_CREDENTIAL_KEYS") as held:
            await send(command(tenant), deps)
    assert held.value.counts and signed.token not in str(held.value)
    assert await texts(sandbox, tenant) == []
    assert tap.of_type("message.failed") == []


async def test_a_bad_key_ring_stops_the_sender_at_start_with_the_problem_named(sender_deps: SenderDeps) -> None:
    with pytest.raises(ValueError, match="WAMUX_CREDENTIAL_KEYS entry 1 is not id:base64key"):
        async with sender_deps(credential_keys="no-colon-here"):
            pass


async def test_a_remembered_token_gives_way_to_the_number_s_new_one_once_its_minute_is_up(
    sender_deps: SenderDeps, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    now = [0.0]
    tokens = NumberTokens(RING, cache_s=60, clock=lambda: now[0])
    async with sender_deps(credential_keys=KEYS) as deps:
        tenant, old = await client_with_token(sandbox, make_tenant, deps)
        async with deps.pool.acquire() as conn:
            first = await tokens.for_number(conn, tenant.client_id, tenant.phone_number_id)
            renewed = await sign_up(sandbox, again=old)
            await give_business_token(deps.pool, RING, renewed.waba_id, renewed.token)
            now[0] = 59.0
            remembered = await tokens.for_number(conn, tenant.client_id, tenant.phone_number_id)
            now[0] = 61.0
            fresh = await tokens.for_number(conn, tenant.client_id, tenant.phone_number_id)
    assert first is not None and first.secret.get_secret_value() == old.token and remembered == first
    assert fresh is not None and fresh.secret.get_secret_value() == renewed.token


async def test_a_token_that_does_not_open_leaves_no_attempt_behind_so_the_fixed_sender_sends_at_once(
    sender_deps: SenderDeps, sandbox: Sandbox, make_tenant: MakeTenant
) -> None:
    async with sender_deps(credential_keys=secretbox.new_key_setting("other")) as deps:
        tenant, _ = await client_with_token(sandbox, make_tenant, deps)  # sealed under k1
        held = command(tenant, "cuando la llave llegue")
        with pytest.raises(Retry, match="WAMUX_CREDENTIAL_KEYS"):
            await send(held, deps)
        left = await deps.pool.fetchval("SELECT count(*) FROM sender.sends WHERE send_id = $1", held.id)
    async with sender_deps(graph_token="not-the-system-token", credential_keys=KEYS) as fixed:
        await send(held, fixed)  # its redelivery: no 'sending' trace to wait two minutes on
    assert left == 0
    assert await texts(sandbox, tenant) == ["cuando la llave llegue"]

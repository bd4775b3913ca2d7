"""Whole onboardings through the broker, as a CRM drives them, against the emulator playing Meta: the hosted signup
path, the manual SMS path and coexistence; Meta's errors (wrong code, wrong PIN, a used code, the register rate
limit, a failing callback check retried); the same command twice at once. A crash in the middle:
test_onboarding_crash.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiohttp
import asyncpg
import pytest
from aiohttp import web
from pydantic import SecretStr

from sandbox.config import SandboxSettings
from sandbox.testing import serve_app
from shared.contracts.directory import (
    ClientCreate,
    NumberCompleteSignup,
    NumberRegister,
    NumberRenewLink,
    NumberRequestCode,
    NumberResume,
    NumberTokenRejected,
    NumberVerifyCode,
)
from shared.contracts.envelope import Envelope, Payload, wrap
from shared.contracts.meta_events import AccountUpdated
from shared.graph.onboarding import onboarding_graph
from shared.messaging.broker import to_message
from shared.messaging.runtime import Infrastructure
from shared.phones import parse_phone
from shared.settings import GraphSettings, Settings
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number

from .conftest import MANUAL_WABA_ID

pytestmark = pytest.mark.usefixtures("directory_service")
VERIFY_TOKEN = "test-verify-token"


@dataclass
class Callback:
    """The gateway's webhook endpoint as Meta's callback check sees it: answers hub.challenge (after ``failures``
    refusals)."""

    url: str
    failures: int = 0
    checks: int = 0


@pytest.fixture
async def callback() -> AsyncIterator[Callback]:
    state = Callback(url="")

    async def verify(request: web.Request) -> web.Response:
        state.checks += 1
        if state.failures > 0:
            state.failures -= 1
            return web.Response(status=500)
        if request.query.get("hub.verify_token") != VERIFY_TOKEN:
            return web.Response(status=403)
        return web.Response(text=request.query["hub.challenge"])

    app = web.Application()
    app.router.add_get("/webhook/whatsapp", verify)
    url, server = await serve_app(app)
    state.url = f"{url}/webhook/whatsapp"
    yield state
    await server.close()


@pytest.fixture
def directory_config(callback: Callback) -> dict[str, Any]:
    return {"verify_token": VERIFY_TOKEN, "webhook_callback_url": callback.url}


async def publish(infra: Infrastructure[Settings], command: Payload, correlation_id: str) -> Envelope[Any]:
    """As a CRM publishes: on the commands exchange, routing key = type."""
    envelope = wrap(command, correlation_id=correlation_id)
    async with infra.connection.channel() as channel:
        exchange = await channel.get_exchange(infra.names.commands, ensure=False)
        body = bytes(to_message(envelope).body)
        await exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), envelope.type)
    return envelope


class Crm:
    def __init__(self, infra: Infrastructure[Settings], tap: Tap, sandbox: Sandbox):
        self.infra, self.tap, self.sandbox = infra, tap, sandbox
        self.correlation = f"crm-{uuid.uuid4().hex[:8]}"

    async def send(self, command: Payload) -> Envelope[Any]:
        return await publish(self.infra, command, self.correlation)

    async def client(self, name: str = "Inmobiliaria Andes") -> uuid.UUID:
        client_id = uuid.uuid4()
        await self.send(ClientCreate(client_id=client_id, name=name, timezone="America/Bogota"))
        await self.tap.wait_for("client.created", where=lambda m: m["data"]["client_id"] == str(client_id))
        return client_id

    async def state(self, onboarding_id: uuid.UUID, state: str, step: str | None = None) -> dict[str, Any]:
        """The ``number.onboarding_changed`` that brought the onboarding to ``state`` (and ``step``)."""

        def reached(m: dict[str, Any]) -> bool:
            data = m["data"]
            return (
                data["onboarding_id"] == str(onboarding_id) and data["state"] == state and step in (None, data["step"])
            )

        try:
            (changed, *_) = await self.tap.wait_for("number.onboarding_changed", where=reached, timeout=20)
        except TimeoutError:
            seen = [
                (m["data"]["state"], m["data"]["step"], m["data"]["error"])
                for m in self.tap.of_type("number.onboarding_changed")
                if m["data"]["onboarding_id"] == str(onboarding_id)
            ]
            raise AssertionError(f"never {state}/{step}; went {seen}") from None
        return dict(changed["data"])

    def changes(self, onboarding_id: uuid.UUID) -> list[tuple[str, str]]:
        return [
            (m["data"]["state"], m["data"]["step"])
            for m in self.tap.of_type("number.onboarding_changed")
            if m["data"]["onboarding_id"] == str(onboarding_id)
        ]


@pytest.fixture
def crm(infra: Infrastructure[Settings], tap: Tap, sandbox: Sandbox) -> Crm:
    return Crm(infra, tap, sandbox)


async def hosted_signup(sandbox: Sandbox, e164: str, *, coexistence: bool = False) -> dict[str, str]:
    """The client accepts on Meta's hosted Embedded Signup page (the emulator's)."""
    return await sandbox.accept_signup(e164, coexistence=coexistence)


def meta_answered(onboarding_id: uuid.UUID, answer: dict[str, str], **given: Any) -> NumberCompleteSignup:
    """``number.complete_signup`` with what Meta's signup answered (its code and ids: no phone_number_id for
    coexistence), as the gateway publishes it."""
    ids = {k: answer[k] for k in ("phone_number_id", "business_id") if k in answer}
    return NumberCompleteSignup(
        onboarding_id=onboarding_id, code=answer["code"], waba_id=answer["waba_id"], **(ids | given)
    )


async def emulator(sandbox: Sandbox, path: str, **patch: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        method = (
            session.patch(f"{sandbox.graph_url}/_sandbox/{path}", json=patch)
            if patch
            else session.get(f"{sandbox.graph_url}/_sandbox/{path}")
        )
        async with method as answer:
            assert answer.status == 200, await answer.text()
            return dict(await answer.json())


async def number_row(pool: asyncpg.Pool, phone_number_id: str, status: str | None = None) -> dict[str, Any]:
    """The number as the directory's read view shows it — once in ``status``: the events are published as their
    transaction commits, so a reader may see an event a moment before its row (bounded poll)."""
    for _ in range(100):
        row = await pool.fetchrow("SELECT * FROM directory_read.numbers WHERE phone_number_id = $1", phone_number_id)
        if row is not None and status in (None, row["status"]):
            return dict(row)
        await asyncio.sleep(0.05)
    raise AssertionError(f"number {phone_number_id} never {status}: {row and dict(row)}")


async def no_number(pool: asyncpg.Pool, phone_number_id: str) -> bool:
    """Bounded poll until the directory holds no such number (released, or never claimed)."""
    for _ in range(100):
        if not await pool.fetchval(
            "SELECT true FROM directory_read.numbers WHERE phone_number_id = $1", phone_number_id
        ):
            return True
        await asyncio.sleep(0.05)
    return False


async def signup(
    crm: Crm, client_id: uuid.UUID, e164: str, *, coexistence: bool = False
) -> tuple[uuid.UUID, dict[str, str]]:
    onboarding_id = uuid.uuid4()
    await crm.send(
        NumberRegister(onboarding_id=onboarding_id, client_id=client_id, phone_number=e164, coexistence=coexistence)
    )
    waiting = await crm.state(onboarding_id, "pending", "await_signup")
    assert waiting["signup_url"] and "/onboard/" in waiting["signup_url"]
    return onboarding_id, await hosted_signup(crm.sandbox, e164, coexistence=coexistence)


async def test_the_hosted_signup_path_connects_the_number_in_meta_s_order(
    crm: Crm, infra: Infrastructure[Settings], callback: Callback
) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)

    await crm.send(meta_answered(onboarding_id, result))
    await crm.state(onboarding_id, "active", "done")
    (activated,) = await crm.tap.wait_for("number.activated", where=lambda m: m["data"]["phone_number"] == e164)

    assert crm.changes(onboarding_id) == [
        ("pending", "await_signup"),
        ("signup_started", "exchange_code"),
        ("code_exchanged", "subscribe_app"),
        ("subscribed", "override_callback"),
        ("subscribed", "register"),
        ("registered", "read_number"),
        ("active", "done"),
    ]
    pnid = result["phone_number_id"]
    assert activated["data"] | {"display_name": ""} == {
        "client_id": str(client_id),
        "phone_number_id": pnid,
        "phone_number": e164,
        "waba_id": result["waba_id"],
        "display_name": "",
    }
    at_meta = await emulator(crm.sandbox, f"phone_numbers/{pnid}")
    assert at_meta["registered"] and at_meta["platform_type"] == "CLOUD_API" and at_meta["two_step_pin_set"]
    waba = await emulator(crm.sandbox, f"wabas/{result['waba_id']}")
    assert waba["subscribed"] and waba["override_callback_uri"] == callback.url and callback.checks == 1
    number = await number_row(infra.pool, pnid, "active")
    assert (number["client_id"], number["platform_type"]) == (client_id, "CLOUD_API")
    assert (
        number["verified_name"] and number["quality_rating"] and number["throughput_level"] and number["read_back_at"]
    )
    # The business token and the PIN are kept, encrypted: the token's text is nowhere in the table.
    sealed = await infra.pool.fetch(
        "SELECT kind, subject, key_id, ciphertext FROM directory.credentials WHERE subject = ANY($1::text[])",
        [pnid, result["waba_id"]],
    )
    assert {(r["kind"], r["key_id"]) for r in sealed} == {("business_token", "test1"), ("pin", "test1")}
    assert all(result["code"].encode() not in r["ciphertext"] for r in sealed)


async def test_the_manual_path_verifies_the_number_by_sms_and_asks_again_after_a_wrong_code(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client("Ferretería Sol")
    e164 = random_phone_number()
    onboarding_id = uuid.uuid4()
    await crm.send(
        NumberRegister(
            onboarding_id=onboarding_id,
            client_id=client_id,
            phone_number=e164,
            method="manual",
            display_name="Ferretería Sol",
        )
    )
    added = await crm.state(onboarding_id, "pending", "await_request_code")
    pnid = added["phone_number_id"]
    assert added["waba_id"] == MANUAL_WABA_ID and (await number_row(infra.pool, pnid, "pending"))

    await crm.send(NumberRequestCode(onboarding_id=onboarding_id, code_method="SMS", language="es"))
    await crm.state(onboarding_id, "code_requested", "await_code")
    sms = (await emulator(crm.sandbox, f"phone_numbers/{pnid}"))["last_code"]
    wrong = f"{(int(sms) + 1) % 10**6:06d}"

    await crm.send(NumberVerifyCode(onboarding_id=onboarding_id, code=wrong))
    (asked_again,) = await crm.tap.wait_for(
        "number.onboarding_changed",
        where=lambda m: m["data"]["onboarding_id"] == str(onboarding_id) and m["data"]["error"] is not None,
    )
    assert (asked_again["data"]["state"], asked_again["data"]["step"]) == ("code_requested", "await_code")
    assert asked_again["data"]["error"]["code"] == 136025 and not asked_again["data"]["error"]["retryable"]

    await crm.send(NumberVerifyCode(onboarding_id=onboarding_id, code=sms))
    await crm.state(onboarding_id, "active", "done")
    assert ("code_verified", "register") in crm.changes(onboarding_id)
    number = await number_row(infra.pool, pnid, "active")
    assert number["display_name"] == "Ferretería Sol"


async def test_a_coexistence_number_is_found_under_its_waba_subscribed_and_never_registered(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client("Café Bruma")
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164, coexistence=True)
    assert "phone_number_id" not in result  # coexistence's finish names only the WABA

    await crm.send(NumberCompleteSignup(onboarding_id=onboarding_id, code=result["code"], waba_id=result["waba_id"]))
    active = await crm.state(onboarding_id, "active", "done")

    assert [step for _, step in crm.changes(onboarding_id)] == [
        "await_signup",
        "exchange_code",
        "find_number",
        "subscribe_app",
        "override_callback",
        "sync_contacts",
        "sync_history",
        "read_number",
        "done",
    ]
    at_meta = await emulator(crm.sandbox, f"phone_numbers/{active['phone_number_id']}")
    assert at_meta["register_requests"] == 0 and at_meta["is_on_biz_app"]
    assert at_meta["syncs"] == ["smb_app_state_sync", "history"]  # the Business app's contacts, then its chats
    assert (await number_row(infra.pool, active["phone_number_id"], "active"))["coexistence"] is True


@pytest.mark.parametrize(
    ("meta_side", "code", "words"),
    [
        ({"two_step_pin": "000000"}, 133005, "PIN Mismatch"),  # the number has a two-step PIN set elsewhere
        ({"register_blocked": True}, 133016, ""),  # Meta blocks registering it for 72 hours: not retried
    ],
)
async def test_meta_refusing_the_register_fails_the_onboarding_with_meta_s_error(
    crm: Crm, infra: Infrastructure[Settings], meta_side: dict[str, Any], code: int, words: str
) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)
    await emulator(crm.sandbox, f"phone_numbers/{result['phone_number_id']}", **meta_side)

    await crm.send(meta_answered(onboarding_id, result))
    failed = await crm.state(onboarding_id, "failed")

    assert failed["step"] == "register" and failed["error"]["code"] == code and failed["error"]["source"] == "meta"
    assert words in failed["error"]["message"]
    if code == 133005:
        assert "two-step verification PIN" in failed["error"]["message"]  # and what to do about it
    # The number it had claimed is free again (it never answered): another client may now connect it.
    assert await no_number(infra.pool, result["phone_number_id"])
    other = await crm.client("Otra Empresa")
    retry = uuid.uuid4()
    await crm.send(NumberRegister(onboarding_id=retry, client_id=other, phone_number=e164))
    await crm.state(retry, "pending", "await_signup")


async def test_a_code_used_already_fails_the_exchange_and_says_to_sign_up_again(crm: Crm, sandbox: Sandbox) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)
    meta = SandboxSettings()
    graph_settings = GraphSettings(graph_base_url=sandbox.graph_url, graph_token="test-graph-token")
    async with onboarding_graph(graph_settings) as graph:  # someone else exchanged it first
        await graph.exchange_code(meta.app_id, SecretStr("test-app-secret"), result["code"])

    await crm.send(meta_answered(onboarding_id, result))
    failed = await crm.state(onboarding_id, "failed")
    assert failed["step"] == "exchange_code" and (failed["error"]["code"], failed["error"]["subcode"]) == (100, 36009)


async def test_a_failing_callback_check_is_retried_with_backoff_then_the_onboarding_goes_on(
    crm: Crm, callback: Callback
) -> None:
    callback.failures = 1
    client_id = await crm.client()
    onboarding_id, result = await signup(crm, client_id, random_phone_number())

    await crm.send(meta_answered(onboarding_id, result))
    await crm.state(onboarding_id, "active")

    errors = [
        m["data"]["error"]
        for m in crm.tap.of_type("number.onboarding_changed")
        if m["data"]["onboarding_id"] == str(onboarding_id) and m["data"]["error"]
    ]
    assert [(e["code"], e["retryable"]) for e in errors] == [(2200, True)] and callback.checks == 2


async def test_two_identical_signups_at_once_change_the_onboarding_once(crm: Crm) -> None:
    client_id = await crm.client()
    onboarding_id, result = await signup(crm, client_id, random_phone_number())
    complete = wrap(
        meta_answered(onboarding_id, result),
        correlation_id=crm.correlation,
    )
    body = bytes(to_message(complete).body)
    async with crm.infra.connection.channel() as channel:  # the same envelope twice at once (a redelivery)
        exchange = await channel.get_exchange(crm.infra.names.commands, ensure=False)
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await asyncio.gather(exchange.publish(message, complete.type), exchange.publish(message, complete.type))
    await crm.state(onboarding_id, "active", "done")
    await crm.tap.drained()
    assert crm.changes(onboarding_id).count(("signup_started", "exchange_code")) == 1
    assert not crm.tap.of_type("command.rejected")


async def test_a_revoked_token_suspends_the_number_until_the_client_signs_up_again(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)
    pnid = result["phone_number_id"]
    await crm.send(meta_answered(onboarding_id, result))
    await crm.state(onboarding_id, "active")

    # The sender's report: Meta answered 190 to the number's business token.
    rejected = NumberTokenRejected(client_id=client_id, phone_number_id=pnid, code=190, subcode=460, message="x")
    await infra.publisher.publish(wrap(rejected, correlation_id="sender-190", tenant_id=client_id))
    (suspended,) = await crm.tap.wait_for("number.suspended", where=lambda m: m["data"]["phone_number_id"] == pnid)
    assert suspended["data"]["reason"] == "reauthorization_needed"
    await crm.state(onboarding_id, "suspended", "await_resume")
    assert (await number_row(infra.pool, pnid, "suspended"))["suspended_reason"] == "reauthorization_needed"

    # An operator's resume cannot bring it back: only the client's new consent can.
    resume = await crm.send(NumberResume(client_id=client_id, phone_number_id=pnid))
    (refused,) = await crm.tap.wait_for("command.rejected", where=lambda m: m["data"]["command_id"] == str(resume.id))
    assert refused["data"]["reason"] == "invalid" and "signup" in refused["data"]["message"]

    link_id = uuid.uuid4()
    expires = datetime.now(UTC) + timedelta(days=7)
    await crm.send(NumberRenewLink(onboarding_id=onboarding_id, link_id=link_id, expires_at=expires))
    (renewed,) = await crm.tap.wait_for(
        "number.onboarding_changed",
        where=lambda m: m["data"]["signup_url"] is not None and m["data"]["state"] == "suspended",
    )
    again = await hosted_signup(crm.sandbox, e164)
    assert again["phone_number_id"] == pnid  # the same number, consented again
    await crm.send(
        NumberCompleteSignup(
            onboarding_id=onboarding_id,
            code=again["code"],
            waba_id=again["waba_id"],
            phone_number_id=pnid,
            link_id=link_id,
        )
    )
    await crm.tap.wait_for("number.activated", count=2, where=lambda m: m["data"]["phone_number_id"] == pnid)
    assert (await number_row(infra.pool, pnid, "active"))["suspended_reason"] is None
    used = await infra.pool.fetchval("SELECT used_at FROM directory_read.signup_links WHERE id = $1", link_id)
    assert used is not None and renewed["data"]["signup_link_expires_at"] is not None


async def test_hosted_signup_finishes_on_meta_s_partner_added_webhook_without_any_code(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client("Café Bruma")
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)  # the browser never comes back (Hosted ES)

    # What the router announces of Meta's account_update: the entry is the partner's business, the WABA inside.
    waba_info = {"waba_id": result["waba_id"], "owner_business_id": result["business_id"]}
    partner_added = AccountUpdated(
        waba_id="999000111222333",
        field="account_update",
        event="PARTNER_ADDED",
        value={"event": "PARTNER_ADDED", "waba_info": waba_info},
    )
    envelope = wrap(partner_added, correlation_id="meta-account-update")
    await infra.publisher.publish(envelope)
    await infra.publisher.publish(envelope)  # Meta retries webhooks: the same event again changes nothing

    active = await crm.state(onboarding_id, "active", "done")
    await crm.tap.drained()
    assert [step for _, step in crm.changes(onboarding_id)] == [
        "await_signup",
        "subscribe_app",
        "override_callback",
        "register",
        "read_number",
        "done",
    ]
    assert active["phone_number_id"] == result["phone_number_id"] and active["waba_id"] == result["waba_id"]
    kept = await infra.pool.fetchval(
        "SELECT count(*) FROM directory.credentials WHERE kind = 'business_token' AND subject = $1", result["waba_id"]
    )
    assert kept == 1 and len(crm.tap.of_type("number.activated")) == 1
    # The code Meta's page issued was never needed: it is still unspent.
    form = {"client_id": SandboxSettings().app_id, "client_secret": "test-app-secret", "code": result["code"]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{crm.sandbox.graph_url}/v23.0/oauth/access_token", data=form) as answer,
    ):
        assert answer.status == 200


async def test_an_account_update_that_is_not_a_signup_changes_no_onboarding(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client()
    onboarding_id, _ = await signup(crm, client_id, random_phone_number())
    banned = AccountUpdated(
        waba_id="999000111222333", field="account_update", event="DISABLED_UPDATE", value={"event": "DISABLED_UPDATE"}
    )
    await infra.publisher.publish(wrap(banned, correlation_id="meta-ban"))
    await crm.tap.drained()
    await asyncio.sleep(0.3)
    assert crm.changes(onboarding_id) == [("pending", "await_signup")]


async def test_a_number_already_live_on_the_cloud_api_is_not_registered_again(crm: Crm, sandbox: Sandbox) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)
    pnid = result["phone_number_id"]
    graph_settings = GraphSettings(graph_base_url=sandbox.graph_url, graph_token="test-graph-token")
    async with onboarding_graph(graph_settings) as graph:  # registered before, with a PIN wamux never knew
        await graph.register(pnid, "424242")

    await crm.send(meta_answered(onboarding_id, result))
    await crm.state(onboarding_id, "active", "done")
    assert (await emulator(sandbox, f"phone_numbers/{pnid}"))["register_requests"] == 1  # only the one before


async def test_a_number_meta_holds_under_another_waba_fails_the_manual_path_with_meta_s_words(
    crm: Crm, sandbox: Sandbox
) -> None:
    e164 = random_phone_number()
    phone = parse_phone(e164)
    graph_settings = GraphSettings(graph_base_url=sandbox.graph_url, graph_token="test-graph-token")
    async with onboarding_graph(graph_settings) as graph:  # another partner's WABA has it
        await graph.add_phone_number("900000000000777", phone.cc, phone.national_number, "Otra")
    client_id = await crm.client()
    onboarding_id = uuid.uuid4()
    await crm.send(NumberRegister(onboarding_id=onboarding_id, client_id=client_id, phone_number=e164, method="manual"))

    failed = await crm.state(onboarding_id, "failed")
    assert failed["step"] == "add_phone_number" and failed["error"]["code"] == 100
    assert "already added to another WhatsApp Business Account" in failed["error"]["message"]


async def test_the_two_step_pin_the_client_gives_with_its_number_is_the_one_registered(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id = uuid.uuid4()
    await crm.send(NumberRegister(onboarding_id=onboarding_id, client_id=client_id, phone_number=e164, pin="314159"))
    await crm.state(onboarding_id, "pending", "await_signup")
    result = await hosted_signup(crm.sandbox, e164)
    await emulator(crm.sandbox, f"phone_numbers/{result['phone_number_id']}", two_step_pin="314159")

    await crm.send(meta_answered(onboarding_id, result))
    await crm.state(onboarding_id, "active", "done")
    changed = [
        m for m in crm.tap.of_type("number.onboarding_changed") if m["data"]["onboarding_id"] == str(onboarding_id)
    ]
    assert all("314159" not in json.dumps(m) for m in changed)  # never in an event
    sealed = await infra.pool.fetch("SELECT ciphertext FROM directory.credentials WHERE kind = 'pin'")
    assert all(b"314159" not in r["ciphertext"] for r in sealed)


async def test_a_phone_number_id_the_browser_made_up_is_refused_by_meta_and_binds_nothing(
    crm: Crm, infra: Infrastructure[Settings]
) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id, result = await signup(crm, client_id, e164)
    bogus = "777000111222333"
    await crm.send(
        NumberCompleteSignup(
            onboarding_id=onboarding_id, code=result["code"], waba_id=result["waba_id"], phone_number_id=bogus
        )
    )
    failed = await crm.state(onboarding_id, "failed")
    assert failed["step"] == "exchange_code" and (failed["error"]["code"], failed["error"]["subcode"]) == (100, 33)
    assert await no_number(infra.pool, bogus)
    assert not await infra.pool.fetchval("SELECT true FROM directory_read.numbers WHERE phone_number = $1", e164)


async def test_a_coexistence_onboarding_whose_number_is_not_on_the_business_app_is_not_connected(crm: Crm) -> None:
    client_id = await crm.client()
    e164 = random_phone_number()
    onboarding_id = uuid.uuid4()
    await crm.send(
        NumberRegister(onboarding_id=onboarding_id, client_id=client_id, phone_number=e164, coexistence=True)
    )
    await crm.state(onboarding_id, "pending", "await_signup")
    result = await hosted_signup(crm.sandbox, e164)  # a Cloud API signup, not the Business app's
    await crm.send(NumberCompleteSignup(onboarding_id=onboarding_id, code=result["code"], waba_id=result["waba_id"]))

    failed = await crm.state(onboarding_id, "failed")  # Meta refuses the Business app's sync for such a number
    assert failed["step"] == "sync_contacts" and (failed["error"]["source"], failed["error"]["code"]) == ("meta", 100)
    assert "WhatsApp Business app" in failed["error"]["message"]


async def test_a_client_and_its_number_published_back_to_back_are_both_carried_out(crm: Crm) -> None:
    client_id, onboarding_id = uuid.uuid4(), uuid.uuid4()
    await asyncio.gather(  # as the README's CRM example does: no wait between the two
        crm.send(ClientCreate(client_id=client_id, name="Ferretería Sol")),
        crm.send(NumberRegister(onboarding_id=onboarding_id, client_id=client_id, phone_number=random_phone_number())),
    )
    await crm.state(onboarding_id, "pending", "await_signup")
    assert not crm.tap.of_type("command.rejected")

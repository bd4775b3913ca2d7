"""The onboarding REST API over real HTTP, with ``python -m directory`` carrying out what it publishes on the real
broker and PostgreSQL: what the gateway answers, and what the directory then holds (read through its views)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import asyncpg
import numpy as np
import png as pypng
import pytest
import zxingcpp
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from gateway.app import create_app
from gateway.openapi import document
from shared import secretbox, signup_links
from shared.messaging.runtime import Infrastructure
from tests.support.sandbox import Sandbox
from tests.support.tenants import Tenant, random_phone_number

OPERATOR_KEY = "op-" + uuid.uuid4().hex
LINK_SECRET = "links-" + uuid.uuid4().hex
PUBLIC = "https://wamux.example"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
StartDirectory = Callable[..., AbstractAsyncContextManager[None]]


@pytest.fixture
async def api(infra: Infrastructure, start_directory: StartDirectory) -> AsyncIterator[TestClient]:
    settings = infra.settings.model_copy(
        update={
            "operator_api_key": SecretStr(OPERATOR_KEY),
            "signup_link_secret": SecretStr(LINK_SECRET),
            "public_base_url": PUBLIC,
        }
    )
    async with (
        start_directory(WAMUX_SIGNUP_LINK_SECRET=LINK_SECRET, WAMUX_PUBLIC_BASE_URL=PUBLIC),
        TestClient(TestServer(create_app(settings))) as client,
    ):
        yield client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10) -> Any:
    """Bounded poll until ``check`` returns something truthy (the directory works after the 202)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await check()):
        assert loop.time() < deadline, "the directory did not get there in time"
        await asyncio.sleep(0.05)
    return value


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_client(api: TestClient, **fields: Any) -> dict[str, Any]:
    """A client created by the operator, once the directory has stored its key."""
    answer = await api.post("/api/clients", json={"name": "Pizzería Napoli", **fields}, headers=OPERATOR)
    assert answer.status == 201, await answer.text()
    created: dict[str, Any] = await answer.json()

    async def key_works() -> bool:
        reply = await api.get(f"/api/clients/{created['client_id']}/stats", headers=bearer(created["api_key"]))
        return reply.status == 200

    await eventually(key_works)
    return created


async def register(api: TestClient, client: dict[str, Any], phone: str, **fields: Any) -> Any:
    body = {"client_id": client["client_id"], "phone_number": phone, **fields}
    return await api.post("/api/register-client-number", json=body, headers=bearer(client["api_key"]))


def decoded(png_bytes: bytes) -> str:
    _, _, rows, _ = pypng.Reader(bytes=png_bytes).asDirect()
    pixels = np.array([[255 if value else 0 for value in row] for row in rows], dtype=np.uint8)
    return str(zxingcpp.read_barcodes(pixels)[0].text)


async def test_the_operator_creates_a_client_whose_key_then_opens_the_client_api(api: TestClient) -> None:
    created = await new_client(api, personality="Cálida y breve", timezone="America/Bogota")
    assert created["api_key"].startswith("wmx_") and created["timezone"] == "America/Bogota"
    stats = await api.get(f"/api/clients/{created['client_id']}/stats", headers=bearer(created["api_key"]))
    assert (await stats.json())["numbers"] == []
    again = await api.post("/api/clients", json={"client_id": created["client_id"], "name": "X"}, headers=OPERATOR)
    assert again.status == 409 and "shown once" in await again.text()


async def test_a_client_key_cannot_create_clients_and_a_wrong_key_is_401(api: TestClient) -> None:
    created = await new_client(api)
    as_client = await api.post("/api/clients", json={"name": "Otra"}, headers=bearer(created["api_key"]))
    assert as_client.status == 403
    assert (await api.post("/api/clients", json={"name": "Otra"}, headers=bearer("wmx_nope"))).status == 401


async def test_patch_changes_the_personality_as_the_directory_then_holds_it(
    api: TestClient, infra: Infrastructure
) -> None:
    created = await new_client(api, personality="Formal")
    client_id = uuid.UUID(created["client_id"])
    answer = await api.patch(
        f"/api/clients/{client_id}", json={"personality": "Alegre, con emojis"}, headers=bearer(created["api_key"])
    )
    assert answer.status == 202 and (await answer.json())["changing"] == ["personality"]
    pool = await asyncpg.connect(infra.settings.database_url.get_secret_value())
    try:

        async def personality() -> str:
            value = await pool.fetchval("SELECT personality FROM directory_read.clients WHERE id = $1", client_id)
            return str(value) if value == "Alegre, con emojis" else ""

        assert await eventually(personality) == "Alegre, con emojis"
    finally:
        await pool.close()
    empty = await api.patch(f"/api/clients/{client_id}", json={}, headers=OPERATOR)
    assert empty.status == 400 and "nothing to change" in await empty.text()


async def test_a_client_key_cannot_change_its_own_free_allowance_the_operator_key_can(
    api: TestClient, infra: Infrastructure
) -> None:
    created = await new_client(api, free_quota=1000)
    path, own_key = f"/api/clients/{created['client_id']}", bearer(created["api_key"])
    for asked in ({"free_quota": 1_000_000}, {"quota_policy": "pause_ai"}, {"name": "Napoli", "free_quota": 5000}):
        refused = await api.patch(path, json=asked, headers=own_key)
        assert refused.status == 403, await refused.text()
        error = (await refused.json())["error"]
        assert "operator key" in error and all(field in error for field in asked if field != "name")
    raised = await api.patch(path, json={"free_quota": 2500}, headers=OPERATOR)
    assert raised.status == 202 and (await raised.json())["changing"] == ["free_quota"]

    async def allowance() -> int:
        value = await infra.pool.fetchval(
            "SELECT free_quota FROM directory_read.clients WHERE id = $1", uuid.UUID(created["client_id"])
        )
        return int(value) if value == 2500 else 0

    assert await eventually(allowance) == 2500


async def test_concurrent_registrations_of_one_number_answer_the_same_onboarding_at_once(api: TestClient) -> None:
    client = await new_client(api)
    phone = random_phone_number()
    # No Idempotency-Key: each request chooses its own onboarding id, and the directory opens only one.
    answers = await asyncio.gather(*(register(api, client, phone) for _ in range(3)))
    bodies = [await answer.json() for answer in answers]
    assert {answer.status for answer in answers} <= {200, 202}, bodies
    assert len({body["onboarding_id"] for body in bodies}) == 1, bodies
    assert "submitted" not in {body["state"] for body in bodies}  # none waited out the 5 s for an id never stored
    shown = await api.get(bodies[0]["state_url"], headers=bearer(client["api_key"]))
    assert shown.status == 200 and (await shown.json())["state"] == "pending"


async def test_concurrent_registrations_of_one_number_by_two_clients_connect_it_for_one(api: TestClient) -> None:
    first, second = await new_client(api), await new_client(api)
    phone = random_phone_number()
    answers = await asyncio.gather(register(api, first, phone), register(api, second, phone))
    assert sorted(answer.status for answer in answers) == [202, 409], [await a.text() for a in answers]
    refused = next(answer for answer in answers if answer.status == 409)
    assert "being connected by another client" in (await refused.json())["error"]


async def test_registering_answers_202_with_the_links_and_the_onboarding_then_waits_for_the_signup(
    api: TestClient,
) -> None:
    client = await new_client(api)
    answer = await register(api, client, random_phone_number(), display_name="Napoli")
    assert answer.status == 202, await answer.text()
    accepted = await answer.json()
    link = signup_links.verify(SecretStr(LINK_SECRET), accepted["signup_url"].rsplit("/", 1)[1])
    assert accepted["signup_url"].startswith(f"{PUBLIC}/onboard/") and accepted["state"] == "pending"

    async def stored() -> Any:
        reply = await api.get(accepted["state_url"], headers=bearer(client["api_key"]))
        return await reply.json() if reply.status == 200 else None

    onboarding = await eventually(stored)
    assert (onboarding["state"], onboarding["step"], onboarding["method"]) == ("pending", "await_signup", "signup")
    assert onboarding["signup_url"] == accepted["signup_url"]  # re-signed from the stored link: the same token
    assert onboarding["signup_link_expires_at"].startswith(link.expires_at.isoformat()[:19])
    qr_png = await api.get(accepted["qr_png_url"], headers=bearer(client["api_key"]))
    assert qr_png.content_type == "image/png" and decoded(await qr_png.read()) == accepted["signup_url"]
    qr_svg = await api.get(accepted["qr_svg_url"], headers=OPERATOR)
    assert qr_svg.content_type == "image/svg+xml" and b"<svg" in await qr_svg.read()
    again = await register(api, client, onboarding["phone_number"])
    assert again.status == 200 and (await again.json())["onboarding_id"] == accepted["onboarding_id"]


async def test_an_invalid_number_is_400_with_what_to_do(api: TestClient) -> None:
    answer = await register(api, await new_client(api), "+57 123")
    assert answer.status == 400 and "E.164" in await answer.text()


async def test_a_number_another_client_holds_or_is_connecting_is_409(
    api: TestClient, make_tenant: Callable[..., Awaitable[Tenant]]
) -> None:
    holder = await make_tenant()
    first, second = await new_client(api), await new_client(api)
    held = await register(api, second, holder.phone_number)
    assert held.status == 409 and "belongs to another client" in await held.text()
    phone = random_phone_number()
    onboarding_id = (await (await register(api, first, phone)).json())["onboarding_id"]

    async def stored() -> bool:
        return (await api.get(f"/api/onboardings/{onboarding_id}", headers=OPERATOR)).status == 200

    await eventually(stored)
    connecting = await register(api, second, phone)
    assert connecting.status == 409 and "being connected by another client" in await connecting.text()


async def test_another_clients_onboarding_and_client_do_not_exist_for_a_client(api: TestClient) -> None:
    owner, other = await new_client(api), await new_client(api)
    accepted = await (await register(api, owner, random_phone_number())).json()

    async def stored() -> bool:
        return (await api.get(accepted["state_url"], headers=OPERATOR)).status == 200

    await eventually(stored)
    intruder = bearer(other["api_key"])
    assert (await api.get(accepted["state_url"], headers=intruder)).status == 404
    assert (await api.get(accepted["qr_png_url"], headers=intruder)).status == 404
    verify = await api.post(f"{accepted['state_url']}/verify", json={"code": "123456"}, headers=intruder)
    assert verify.status == 404
    assert (await api.patch(f"/api/clients/{owner['client_id']}", json={"name": "Mía"}, headers=intruder)).status == 404
    on_behalf = await register(api, other, random_phone_number(), client_id=owner["client_id"])
    assert on_behalf.status == 404


async def test_verify_refuses_a_code_that_is_not_six_digits(api: TestClient) -> None:
    client = await new_client(api)
    accepted = await (await register(api, client, random_phone_number())).json()

    async def stored() -> bool:
        return (await api.get(accepted["state_url"], headers=OPERATOR)).status == 200

    await eventually(stored)
    for code in ("12345", "12a456", "1234567"):
        answer = await api.post(f"{accepted['state_url']}/verify", json={"code": code}, headers=OPERATOR)
        assert answer.status == 400 and "6 digits" in await answer.text()
    # Six digits, but this onboarding is Embedded Signup's: there is no code to verify.
    answer = await api.post(f"{accepted['state_url']}/verify", json={"code": "123456"}, headers=OPERATOR)
    assert answer.status == 409


async def test_an_active_number_has_a_customer_qr_of_its_wa_me_link(
    api: TestClient, make_tenant: Callable[..., Awaitable[Tenant]]
) -> None:
    tenant = await make_tenant()
    answer = await api.get(
        f"/api/numbers/{tenant.phone_number_id}/qr.png", params={"text": "Hola"}, headers=bearer(tenant.api_key)
    )
    assert answer.status == 200
    assert decoded(await answer.read()) == f"https://wa.me/{tenant.phone_number.removeprefix('+')}?text=Hola"


async def test_operator_calls_answer_503_until_an_operator_key_is_set(infra: Infrastructure) -> None:
    async with TestClient(TestServer(create_app(infra.settings))) as api:
        answer = await api.post("/api/clients", json={"name": "X"}, headers=OPERATOR)
        assert answer.status == 503 and "WAMUX_OPERATOR_API_KEY" in await answer.text()


def test_the_openapi_document_names_every_api_route_of_the_gateway_and_no_other(infra: Infrastructure) -> None:
    app = create_app(infra.settings)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api") and route.method != "HEAD"
    }
    documented = {(method, path) for path, operations in document()["paths"].items() for method in operations}
    assert served == documented
    assert document()["openapi"] == "3.1.0"
    for ref in ("NewClient", "NumberRegistration", "CodeVerification", "Onboarding", "OnboardingAccepted"):
        assert ref in document()["components"]["schemas"]


@pytest.fixture
async def api_on_meta(
    infra: Infrastructure, start_directory: StartDirectory, sandbox: Sandbox
) -> AsyncIterator[TestClient]:
    """The API with a directory that reaches the emulator as Meta (its system token, the agency's WABA)."""
    settings = infra.settings.model_copy(
        update={"operator_api_key": SecretStr(OPERATOR_KEY), "signup_link_secret": SecretStr(LINK_SECRET)}
    )
    meta = {
        "WAMUX_GRAPH_BASE_URL": sandbox.graph_url,
        "WAMUX_GRAPH_TOKEN": "test-graph-token",
        "WAMUX_MANUAL_WABA_ID": "900000000000001",
        "WAMUX_CREDENTIAL_KEYS": secretbox.new_key_setting("rest1"),
        "WAMUX_SIGNUP_LINK_SECRET": LINK_SECRET,
    }
    async with start_directory(**meta), TestClient(TestServer(create_app(settings))) as client:
        yield client


async def onboarding_at(api: TestClient, onboarding_id: str, state: str, step: str, **extra: Any) -> dict[str, Any]:
    async def there() -> dict[str, Any] | None:
        answer = await api.get(f"/api/onboardings/{onboarding_id}", headers=OPERATOR)
        if answer.status != 200:
            return None
        body: dict[str, Any] = await answer.json()
        matches = all(body.get(k) == v for k, v in extra.items())
        return body if (body["state"], body["step"]) == (state, step) and matches else None

    return dict(await eventually(there, timeout=20))


async def test_the_manual_path_over_rest_asks_for_the_code_again_after_a_wrong_one_then_connects(
    api_on_meta: TestClient, sandbox: Sandbox
) -> None:
    api = api_on_meta
    client = await new_client(api)
    answer = await register(api, client, random_phone_number(), method="manual")
    assert answer.status == 202, await answer.text()
    accepted = await answer.json()
    assert accepted["signup_url"] is None  # the manual path has no signup link
    added = await onboarding_at(api, accepted["onboarding_id"], "pending", "await_request_code")
    pnid = added["phone_number_id"]
    base = f"/api/onboardings/{accepted['onboarding_id']}"

    assert (await api.post(f"{base}/request-code", json={"method": "SMS"}, headers=OPERATOR)).status == 202
    await onboarding_at(api, accepted["onboarding_id"], "code_requested", "await_code")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.graph_url}/_sandbox/phone_numbers/{pnid}") as r,
    ):
        sms = (await r.json())["last_code"]
    wrong = f"{(int(sms) + 1) % 10**6:06d}"
    assert (await api.post(f"{base}/verify", json={"code": wrong}, headers=OPERATOR)).status == 202

    async def told_wrong() -> dict[str, Any] | None:
        body: dict[str, Any] = await (await api.get(base, headers=OPERATOR)).json()
        return body if body.get("error") and body["step"] == "await_code" else None

    asked_again = await eventually(told_wrong, timeout=20)
    assert asked_again["error"]["code"] == 136025 and "136025" in asked_again["error"]["text"]
    assert (await api.post(f"{base}/verify", json={"code": sms}, headers=OPERATOR)).status == 202
    await onboarding_at(api, accepted["onboarding_id"], "active", "done")

    qr = await api.get(f"/api/numbers/{pnid}/qr.png", params={"text": "Hola"}, headers=bearer(client["api_key"]))
    assert qr.status == 200 and decoded(await qr.read()).startswith("https://wa.me/")


async def test_a_pin_given_with_a_number_must_be_six_digits_and_is_never_echoed(api: TestClient) -> None:
    client = await new_client(api)
    short = await register(api, client, random_phone_number(), pin="12345")
    assert short.status == 400 and "pin" in (await short.json())["error"]
    given = await register(api, client, random_phone_number(), pin="271828")
    assert given.status == 202 and "271828" not in await given.text()


async def test_a_client_lists_its_onboardings_newest_first_and_not_another_s(api: TestClient) -> None:
    client, other = await new_client(api), await new_client(api)
    first, second = random_phone_number(), random_phone_number()
    for phone in (first, second):
        assert (await register(api, client, phone)).status == 202
    listed = await api.get(f"/api/clients/{client['client_id']}/onboardings", headers=bearer(client["api_key"]))
    body = await listed.json()
    assert [o["phone_number"] for o in body["onboardings"]] == [second, first]
    assert all(o["state"] == "pending" and o["signup_url"] for o in body["onboardings"])
    theirs = await api.get(f"/api/clients/{client['client_id']}/onboardings", headers=bearer(other["api_key"]))
    assert theirs.status == 404

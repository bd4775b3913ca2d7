"""The Graph client's onboarding calls against the sandbox's Meta emulator, over real HTTP on free ports:
each call's success, Meta's refusals as typed errors, the manual path and the Embedded Signup path end to end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from sandbox.config import SandboxSettings
from sandbox.meta import emulator as graph_emulator
from sandbox.testing import WebhookReceiver, serve_app
from shared.graph import errors as ge
from shared.graph.onboarding import OnboardingGraph, onboarding_graph
from shared.settings import GraphSettings

APP_ID, CONFIG_ID, APP_SECRET = "1000000000000001", "2000000000000002", "onboarding-app-secret"
TOKEN = "onboarding-graph-token"
WABA = "102290129340398"  # the partner's own WABA, known to the emulator from its first use
VERIFY_TOKEN = SecretStr("vt-onboarding")

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


@pytest.fixture
def serve(stack: AsyncExitStack) -> Serve:
    async def start(app: web.Application) -> str:
        url, server = await serve_app(app)
        stack.push_async_callback(server.close)
        return url

    return start


@pytest.fixture
async def emulator(serve: Serve) -> str:
    gateway = WebhookReceiver()
    gateway.url = await serve(gateway.app()) + "/webhook/whatsapp"
    config = SandboxSettings(
        app_secret=SecretStr(APP_SECRET), graph_token=SecretStr(TOKEN), sandbox_webhook_url=gateway.url, app_id=APP_ID
    )
    return await serve(graph_emulator.create_app(config))


@pytest.fixture
async def graph(emulator: str, stack: AsyncExitStack) -> OnboardingGraph:
    settings = GraphSettings(graph_base_url=emulator, graph_token=SecretStr(TOKEN))
    return await stack.enter_async_context(onboarding_graph(settings))


@pytest.fixture
async def http(stack: AsyncExitStack) -> aiohttp.ClientSession:
    return await stack.enter_async_context(aiohttp.ClientSession())


@pytest.fixture
async def callback(serve: Serve) -> str:
    """The wamux webhook an override points at: it answers Meta's hub.challenge GET when the token matches."""

    async def challenge(request: web.Request) -> web.Response:
        if request.query.get("hub.verify_token") != VERIFY_TOKEN.get_secret_value():
            return web.Response(status=403)
        return web.Response(text=request.query["hub.challenge"])

    app = web.Application()
    app.router.add_get("/webhook/whatsapp", challenge)
    return await serve(app) + "/webhook/whatsapp"


async def sms_code(http: aiohttp.ClientSession, emulator: str, pnid: str) -> str:
    """What the client reads in the SMS ("WhatsApp code 123-830"), from the emulator's control."""
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        code = str((await response.json())["last_code"])
    return f"{code[:3]}-{code[3:]}"


async def control(http: aiohttp.ClientSession, emulator: str, pnid: str, **changes: Any) -> None:
    async with http.patch(f"{emulator}/_sandbox/phone_numbers/{pnid}", json=changes) as response:
        assert response.status == 200, await response.text()


async def verified_number(graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, national: str) -> str:
    pnid = await graph.add_phone_number(WABA, "57", national, "Panadería Luz")
    await graph.request_code(pnid, "SMS", "es")
    await graph.verify_code(pnid, await sms_code(http, emulator, pnid))
    return pnid


async def test_the_manual_path_adds_verifies_registers_and_reads_the_number_back(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str
) -> None:
    pnid = await graph.add_phone_number(WABA, "57", "3001112233", "Panadería Luz")
    before = await graph.phone_number(pnid)
    assert (before.verified, before.on_cloud_api, before.platform_type) == (False, False, "NOT_APPLICABLE")
    with pytest.raises(ge.NumberNotRegistered):
        await graph.send_text(pnid, "573009998877", "hola")

    await graph.request_code(pnid, "sms", "es")
    await graph.verify_code(pnid, await sms_code(http, emulator, pnid))
    await graph.register(pnid, "314159")

    number = await graph.phone_number(pnid)
    assert (number.id, number.verified_name, number.display_phone_number) == (pnid, "Panadería Luz", "+57 300 1112233")
    assert (number.verified, number.on_cloud_api, number.throughput.level) == (True, True, "STANDARD")
    assert (number.name_status, number.quality_rating, number.is_on_biz_app) == ("APPROVED", "GREEN", False)
    assert number.last_onboarded_time is not None
    assert pnid in [n.id for n in await graph.waba_phone_numbers(WABA)]
    assert (await graph.send_text(pnid, "573009998877", "hola")).startswith("wamid.")


async def test_adding_the_same_number_again_names_the_same_phone_number_id(graph: OnboardingGraph) -> None:
    first = await graph.add_phone_number(WABA, "44", "7700900123", "Tea Rooms")
    assert await graph.add_phone_number(WABA, "44", "7700900123", "Tea Rooms") == first


async def test_a_wrong_code_is_136025_and_no_retry_helps(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str
) -> None:
    pnid = await graph.add_phone_number(WABA, "34", "612345678", "Bar Sol")
    await graph.request_code(pnid, "VOICE", "es_ES")
    right = (await sms_code(http, emulator, pnid)).replace("-", "")
    with pytest.raises(ge.WrongVerificationCode) as wrong:
        await graph.verify_code(pnid, f"{(int(right) + 1) % 10**6:06d}")
    assert (wrong.value.code, wrong.value.subcode, wrong.value.retryable) == (136025, 2388093, False)
    assert wrong.value.details == "The code entered is incorrect."
    with pytest.raises(ge.InvalidRequest, match="6 digits"):
        await graph.verify_code(pnid, "12345")


async def test_registering_before_verifying_is_133006(graph: OnboardingGraph) -> None:
    pnid = await graph.add_phone_number(WABA, "52", "5512345678", "Tienda Mar")
    with pytest.raises(ge.ReverificationNeeded) as refused:
        await graph.register(pnid, "123456")
    assert (refused.value.code, refused.value.retryable) == (133006, False)


async def test_a_pin_other_than_the_numbers_is_133005_and_not_retried(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str
) -> None:
    pnid = await verified_number(graph, http, emulator, "3105556677")
    await graph.register(pnid, "111111")
    await graph.register(pnid, "111111")  # re-registering with the number's own PIN is accepted
    with pytest.raises(ge.PinMismatch) as wrong:
        await graph.register(pnid, "222222")
    assert (wrong.value.code, wrong.value.retryable) == (133005, False)


async def test_a_number_blocked_from_registering_is_133016_retryable_later(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str
) -> None:
    pnid = await verified_number(graph, http, emulator, "3157778899")
    await control(http, emulator, pnid, register_blocked=True)
    with pytest.raises(ge.RegistrationRateLimited) as blocked:
        await graph.register(pnid, "123456")
    assert (blocked.value.code, blocked.value.retryable) == (133016, True)
    assert blocked.value.retry_after_s >= 60


async def test_override_before_subscribe_is_100_then_subscribe_and_override_in_two_calls(
    graph: OnboardingGraph, callback: str
) -> None:
    with pytest.raises(ge.InvalidRequest) as early:
        await graph.override_callback(WABA, callback, VERIFY_TOKEN)
    assert early.value.code == 100 and "must be subscribed" in str(early.value) and not early.value.retryable
    assert await graph.subscribed_apps(WABA) == []

    await graph.subscribe_app(WABA)
    await graph.override_callback(WABA, callback, VERIFY_TOKEN)

    [app] = await graph.subscribed_apps(WABA)
    assert (app.app_id, app.override_callback_uri) == (APP_ID, callback)


async def test_an_override_whose_challenge_fails_is_2200_and_may_be_retried(
    graph: OnboardingGraph, callback: str
) -> None:
    await graph.subscribe_app(WABA)
    with pytest.raises(ge.CallbackVerificationFailed) as failed:
        await graph.override_callback(WABA, callback, SecretStr("not-the-verify-token"))
    assert (failed.value.code, failed.value.retryable) == (2200, True)
    [app] = await graph.subscribed_apps(WABA)
    assert app.override_callback_uri is None


async def test_unknown_ids_bad_ids_and_bad_tokens_are_typed(emulator: str, graph: OnboardingGraph) -> None:
    with pytest.raises(ge.UnknownObject) as unknown:
        await graph.register("454545454545454", "123456")
    assert (unknown.value.code, unknown.value.subcode) == (100, 33)
    with pytest.raises(ge.InvalidRequest, match="not a Graph id"):
        await graph.phone_number("../me")
    with pytest.raises(ge.TokenInvalid):
        await graph.subscribe_app(WABA, token=SecretStr("EAA-not-a-token"))


class FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values["value"]


async def sign_up(http: aiohttp.ClientSession, emulator: str, serve: Serve, extras: dict[str, Any]) -> dict[str, str]:
    """Open the hosted signup stand-in, press Accept, and return what the browser is redirected back with."""
    landed: list[dict[str, str]] = []

    async def land(request: web.Request) -> web.Response:
        landed.append(dict(request.query))
        return web.Response(text="thanks")

    app = web.Application()
    app.router.add_get("/onboarding/done", land)
    done = await serve(app) + "/onboarding/done"
    query = {"app_id": APP_ID, "config_id": CONFIG_ID, "extras": json.dumps(extras), "redirect_uri": done}
    url = str(URL(f"{emulator}/messaging/whatsapp/onboard/").with_query(query))
    async with http.get(url) as page:
        form = FormReader()
        form.feed(await page.text())
    async with http.post(url.split("?")[0], data={**form.fields, "accept": "1"}) as response:
        assert response.status == 200
    [result] = landed
    return result


async def test_the_signup_path_exchanges_subscribes_overrides_registers_and_reads_back_with_the_business_token(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve, callback: str
) -> None:
    phone = {"code": 57, "number": "3004445566"}
    result = await sign_up(http, emulator, serve, {"setup": {"business": {"name": "Café Aurora", "phone": phone}}})
    waba_id, pnid = result["waba_id"], result["phone_number_id"]

    business = await graph.exchange_code(APP_ID, SecretStr(APP_SECRET), result["code"])
    token = business.access_token
    assert token.get_secret_value() not in repr(business) and business.token_type == "bearer"
    await graph.subscribe_app(waba_id, token=token)
    await graph.override_callback(waba_id, callback, VERIFY_TOKEN, token=token)
    before = await graph.phone_number(pnid, token=token)
    assert (before.verified, before.on_cloud_api, before.verified_name) == (True, False, "Café Aurora")
    await graph.register(pnid, "271828", token=token)

    number = await graph.phone_number(pnid, token=token)
    assert (number.on_cloud_api, number.display_phone_number) == (True, "+57 300 4445566")
    [app] = await graph.subscribed_apps(waba_id, token=token)
    assert app.override_callback_uri == callback
    with pytest.raises(ge.UnknownObject):  # a business token reaches its own WABA only
        await graph.waba_phone_numbers(WABA, token=token)
    with pytest.raises(ge.AuthorizationCodeRejected) as used:
        await graph.exchange_code(APP_ID, SecretStr(APP_SECRET), result["code"])
    assert (used.value.code, used.value.subcode, used.value.retryable) == (100, 36009, False)


async def test_a_coexistence_signup_finds_its_number_under_the_waba_and_is_never_registered(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve
) -> None:
    extras = {
        "featureType": "whatsapp_business_app_onboarding",
        "setup": {"business": {"name": "Tienda Mar", "phone": {"code": "52", "number": "5587654321"}}},
    }
    result = await sign_up(http, emulator, serve, extras)
    assert "phone_number_id" not in result
    token = (await graph.exchange_code(APP_ID, SecretStr(APP_SECRET), result["code"])).access_token
    await graph.subscribe_app(result["waba_id"], token=token)

    [number] = await graph.waba_phone_numbers(result["waba_id"], token=token)
    assert (number.is_on_biz_app, number.platform_type) == (True, "CLOUD_API")
    with pytest.raises(ge.InvalidRequest) as refused:
        await graph.register(number.id, "123456", token=token)
    assert refused.value.code == 100


async def test_a_wrong_app_secret_or_app_id_is_a_configuration_error_that_never_shows_the_secret(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve
) -> None:
    code = (await sign_up(http, emulator, serve, {}))["code"]
    with pytest.raises(ge.AppCredentialsRejected) as wrong_secret:
        await graph.exchange_code(APP_ID, SecretStr("guessed-secret"), code)
    assert wrong_secret.value.retryable is False and "guessed-secret" not in str(wrong_secret.value)
    with pytest.raises(ge.AppCredentialsRejected) as wrong_app:
        await graph.exchange_code("42", SecretStr(APP_SECRET), code)
    assert wrong_app.value.code == 101
    assert (await graph.exchange_code(APP_ID, SecretStr(APP_SECRET), code)).access_token.get_secret_value()


async def test_hosted_signup_s_business_token_is_fetched_with_the_system_token_and_its_appsecret_proof(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve
) -> None:
    phone = {"code": 57, "number": "3007778899"}
    result = await sign_up(http, emulator, serve, {"setup": {"business": {"name": "Café Bruma", "phone": phone}}})

    business = await graph.system_user_access_token(result["business_id"], SecretStr(APP_SECRET))
    [number] = await graph.waba_phone_numbers(result["waba_id"], token=business.access_token)
    assert number.id == result["phone_number_id"] and number.display_phone_number == "+57 300 7778899"
    with pytest.raises(ge.GraphError) as wrong_proof:  # signed with another secret: Meta refuses the proof
        await graph.system_user_access_token(result["business_id"], SecretStr("not-the-app-secret"))
    assert wrong_proof.value.code == 100 and "appsecret_proof" in str(wrong_proof.value.title)
    with pytest.raises(ge.UnknownObject):  # a portfolio that shared nothing with the partner
        await graph.system_user_access_token("123456789012345", SecretStr(APP_SECRET))


async def coexistence_number(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve
) -> tuple[str, SecretStr]:
    """A number onboarded from the WhatsApp Business app, and the client's business token that reaches it."""
    phone = {"code": "57", "number": "3016667788"}
    extras = {
        "featureType": "whatsapp_business_app_onboarding",
        "setup": {"business": {"name": "Tienda Mar", "phone": phone}},
    }
    result = await sign_up(http, emulator, serve, extras)
    token = (await graph.exchange_code(APP_ID, SecretStr(APP_SECRET), result["code"])).access_token
    [number] = await graph.waba_phone_numbers(result["waba_id"], token=token)
    return number.id, token


async def synced(http: aiohttp.ClientSession, emulator: str, pnid: str) -> list[str]:
    async with http.get(f"{emulator}/_sandbox/phone_numbers/{pnid}") as response:
        return list((await response.json())["syncs"])


async def test_a_coexistence_number_asks_once_for_its_contacts_and_once_for_its_history(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve
) -> None:
    pnid, token = await coexistence_number(graph, http, emulator, serve)

    contacts = await graph.smb_app_data(pnid, "smb_app_state_sync", token=token)
    history = await graph.smb_app_data(pnid, "history", token=token)

    assert contacts and history and contacts != history
    assert await synced(http, emulator, pnid) == ["smb_app_state_sync", "history"]


async def test_a_sync_asked_for_again_is_sync_already_requested_which_a_caller_treats_as_done(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str, serve: Serve
) -> None:
    pnid, token = await coexistence_number(graph, http, emulator, serve)
    await graph.smb_app_data(pnid, "smb_app_state_sync", token=token)

    with pytest.raises(ge.SyncAlreadyRequested) as again:
        await graph.smb_app_data(pnid, "smb_app_state_sync", token=token)

    assert (again.value.code, again.value.http_status, again.value.retryable) == (100, 400, False)
    assert not isinstance(again.value, ge.InvalidRequest)  # a caller catching "the request is wrong" does not see it
    assert "already requested" in again.value.title
    assert await graph.smb_app_data(pnid, "history", token=token)  # the other sync_type is still open
    assert await synced(http, emulator, pnid) == ["smb_app_state_sync", "history"]


async def test_a_number_not_on_the_business_app_is_refused_and_a_bad_sync_type_never_leaves(
    graph: OnboardingGraph, http: aiohttp.ClientSession, emulator: str
) -> None:
    pnid = await verified_number(graph, http, emulator, "3128889900")
    await graph.register(pnid, "314159")

    with pytest.raises(ge.InvalidRequest) as refused:
        await graph.smb_app_data(pnid, "history")
    with pytest.raises(ge.InvalidRequest, match="is not one of smb_app_state_sync, history"):
        await graph.smb_app_data(pnid, "contacts")  # type: ignore[arg-type]
    with pytest.raises(ge.InvalidRequest, match="not a Graph id"):
        await graph.smb_app_data("../me", "history")

    assert not isinstance(refused.value, ge.SyncAlreadyRequested)
    assert refused.value.code == 100 and "WhatsApp Business app" in refused.value.title
    assert await synced(http, emulator, pnid) == []

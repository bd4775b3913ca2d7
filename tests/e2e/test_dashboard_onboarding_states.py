"""How a client sees an onboarding that went wrong (issue 9): Meta refusing a step (the emulator's fault on
``register``: 133016), a signup link that expired or was replaced, and a sign-in refused with 429 — each said in the
page's language from the catalogue, with the way forward (try again, a new link) working to the end. Every view at
390 px and 1366 px, in Spanish and English, axe-checked, with screenshots in the test's ``artifacts/``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest
from pydantic import SecretStr

from launcher.stack import Stack
from sandbox.testing import inject_fault
from shared import signup_links
from shared.contracts.directory import NumberRenewLink
from shared.contracts.envelope import wrap
from shared.messaging import topology
from shared.messaging.broker import Publisher
from tests.e2e.dashboard_pages import accept_signup, check_view, sign_in, start_connect
from tests.e2e.test_dashboard_views import accessible, no_horizontal_overflow
from tests.support.tenants import Tenant, create_tenant, random_phone_number

pytestmark = pytest.mark.e2e
PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}
# The gateway's signup page, as the client reads it (gateway/signup_html.py), in the client's language.
LINK_PAGE = {
    "es": {"expired": "Este enlace ha caducado", "revoked": "Este enlace fue reemplazado por uno más reciente"}
}


async def catalogues(stack: Stack) -> dict[str, dict[str, Any]]:
    """The dashboard's words, as the page loads them."""
    async with aiohttp.ClientSession() as http:
        found = {}
        for language in ("es", "en"):
            async with http.get(f"{stack.gateway_url}/dashboard/i18n/{language}.json") as response:
                found[language] = await response.json()
        return found


async def language(page: Any, chosen: str) -> None:
    await page.select_option("#language", chosen)
    await page.wait_for_selector(f"html[lang={chosen}]", state="attached")


async def open_page(browser: Any, viewport: dict[str, int], locale: str) -> tuple[Any, Any, list[str]]:
    context = await browser.new_context(viewport=viewport, locale=locale)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


# Each step of the progress list as (step, how far): a signup refused at register got through the four before it.
STEPS_JS = "items => items.map(li => [li.dataset.step, li.className])"
FAILED_AT_REGISTER = [
    ["pending", "done"],
    ["signup_started", "done"],
    ["code_exchanged", "done"],
    ["subscribed", "done"],
    ["registered", "failed"],
    ["active", "todo"],
]


async def test_meta_refusing_register_shows_the_number_failed_in_plain_words_and_try_again_connects_it(
    stack: Stack, database_url: str, browser: Any, artifacts: Path
) -> None:
    words = await catalogues(stack)
    tenant = await create_tenant(database_url, name="Café Bruma")
    e164 = random_phone_number()
    graph = stack.env["WAMUX_GRAPH_BASE_URL"]
    async with aiohttp.ClientSession() as http:
        await inject_fault(http, graph, edge="register", code=133016)

    context, page, errors = await open_page(browser, PHONE, "es-CO")
    await sign_in(page, stack.gateway_url, tenant)
    _, link = await start_connect(page, e164, "Café Bruma Centro")
    await accept_signup(context, link)
    await page.wait_for_selector("#connect-state[data-state=failed]", timeout=60_000)
    async with aiohttp.ClientSession() as http, http.get(f"{graph}/_sandbox/faults") as response:
        assert await response.json() == []  # the register call met the fault: that is what failed
    for lang in ("es", "en"):
        await language(page, lang)
        said = await page.locator("#connect-state").inner_text()
        assert words[lang]["onboarding.state.failed"] in said
        assert words[lang]["onboarding.meta.133016"] in said  # Meta's refusal and what to do, in this language
        assert words[lang]["onboarding.try_again"] in said
        assert "rate limit" not in said  # not the server's English words
        assert await page.locator("#connect-link").is_hidden() and await page.locator("#connect-qr").is_hidden()
        failed = page.locator("#onboardings li.onboarding.failed", has_text=e164)
        await failed.wait_for(timeout=20_000)  # the Numbers view's list, refreshed every 10 s
        assert words[lang]["onboarding.meta.133016"] in await failed.inner_text()
        for steps in (page.locator("#connect-steps"), failed.locator("ol.steps")):  # where it stopped, both places
            assert await steps.locator("li").evaluate_all(STEPS_JS) == FAILED_AT_REGISTER
            said_step = await steps.locator("li.failed").text_content()
            assert words[lang]["onboarding.mark_failed"] in str(said_step)
            assert words[lang]["onboarding.step.registered"] in str(said_step)
        await check_view(page, "numbers", f"failed-{lang}-390", artifacts)
    assert errors == []
    await context.close()

    context, page, errors = await open_page(browser, LAPTOP, "en-US")
    await sign_in(page, stack.gateway_url, tenant)
    failed = page.locator("#onboardings li.onboarding.failed", has_text=e164)
    for lang in ("en", "es"):
        await language(page, lang)
        await failed.wait_for()
        assert words[lang]["onboarding.meta.133016"] in await failed.inner_text()
        await check_view(page, "numbers", f"failed-{lang}-1366", artifacts)
    await failed.locator("button[data-action=try-again]").click()  # the way forward: the same number anew
    await page.wait_for_selector("#connect-result:not([hidden])")
    await page.wait_for_selector("#connect-link[href*='/onboard/']", state="attached")
    retried = str(await page.locator("#connect-link").get_attribute("href"))
    assert retried != link and await page.locator("#connect-phone").input_value() == e164
    await accept_signup(context, retried)
    await page.wait_for_selector("#connect-state[data-state=active]", timeout=60_000)
    await page.locator("#numbers tr", has_text=e164).locator("td.status.active").wait_for(timeout=20_000)
    await page.wait_for_selector("#onboardings li.onboarding.failed", state="detached", timeout=20_000)
    assert errors == []
    await context.close()


async def crm_renews_link(stack: Stack, tenant: Tenant, onboarding_id: str, expires_at: datetime) -> str:
    """The CRM's ``number.renew_link`` (a public command) with a link that lives seconds: its URL, signed as the
    gateway signs links."""
    link_id = uuid.uuid4()
    command = NumberRenewLink(onboarding_id=uuid.UUID(onboarding_id), link_id=link_id, expires_at=expires_at)
    connection = await aio_pika.connect(stack.env["WAMUX_AMQP_URL"])
    async with connection, connection.channel(publisher_confirms=True, on_return_raises=True) as channel:
        publisher = Publisher(channel, topology.Topology(stack.env["WAMUX_BROKER_PREFIX"]), role="crm")
        await publisher.publish(wrap(command, correlation_id=f"e2e-renew-{link_id}", tenant_id=tenant.client_id))
    token = signup_links.sign(SecretStr(stack.env["WAMUX_SIGNUP_LINK_SECRET"]), link_id, expires_at)
    return signup_links.url(stack.gateway_url, token)


async def link_page_says(context: Any, link: str, words: str) -> None:
    page = await context.new_page()
    response = await page.goto(link)
    assert response.status == 410
    assert words in await page.locator("h1").inner_text()
    await page.close()


async def test_an_expired_and_a_replaced_link_are_said_on_the_signup_page_and_the_dashboard_offers_a_new_one(
    stack: Stack, database_url: str, browser: Any, artifacts: Path
) -> None:
    words = await catalogues(stack)
    tenant = await create_tenant(database_url, name="Café Bruma")
    e164 = random_phone_number()
    context, page, errors = await open_page(browser, PHONE, "es-CO")
    await sign_in(page, stack.gateway_url, tenant)
    onboarding_id, first = await start_connect(page, e164, "Café Bruma Norte")
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    short = await crm_renews_link(stack, tenant, onboarding_id, expires_at)
    await page.wait_for_selector(f"#connect-link[href='{short}']", state="attached", timeout=15_000)
    # Past its expiry: the page takes the link and its QR away and offers a new one.
    await page.wait_for_selector("#connect-state button[data-action=new-link]", timeout=20_000)
    assert datetime.now(UTC) >= expires_at
    assert await page.locator("#connect-link").is_hidden() and await page.locator("#connect-qr").is_hidden()
    await link_page_says(context, short, LINK_PAGE["es"]["expired"])
    await link_page_says(context, first, LINK_PAGE["es"]["revoked"])
    for lang in ("es", "en"):
        await language(page, lang)
        said = await page.locator("#connect-state").inner_text()
        assert words[lang]["onboarding.todo_expired"] in said and words[lang]["onboarding.new_link"] in said
        listed = page.locator("#onboardings li.onboarding.pending", has_text=e164)
        await listed.locator("button[data-action=new-link]").wait_for(timeout=20_000)
        assert words[lang]["onboarding.todo_expired"] in await listed.inner_text()
        await check_view(page, "numbers", f"expired-{lang}-390", artifacts)
    assert errors == []
    await context.close()

    context, page, errors = await open_page(browser, LAPTOP, "en-US")
    # The signup page speaks the client's language (its setting, Spanish), whatever this browser prefers.
    await link_page_says(context, short, LINK_PAGE["es"]["expired"])
    await sign_in(page, stack.gateway_url, tenant)
    listed = page.locator("#onboardings li.onboarding.pending", has_text=e164)
    for lang in ("en", "es"):
        await language(page, lang)
        await listed.locator("button[data-action=new-link]").wait_for()
        await check_view(page, "numbers", f"expired-{lang}-1366", artifacts)
    await listed.locator("button[data-action=new-link]").click()  # the way forward: a new link, then the signup
    fresh_link = listed.locator("a[href*='/onboard/']")
    await fresh_link.wait_for(timeout=20_000)
    fresh = str(await fresh_link.get_attribute("href"))
    assert fresh not in (first, short)
    await accept_signup(context, fresh)
    await page.locator("#numbers tr", has_text=e164).locator("td.status.active").wait_for(timeout=60_000)
    assert errors == []
    await context.close()


async def guess_until_limited(stack: Stack, tenant: Tenant) -> None:
    """Wrong keys from this address (the browser's too: 127.0.0.1) until the gateway answers 429."""
    wrong = {"Authorization": "Bearer wmx_not-the-key"}
    async with aiohttp.ClientSession() as http:
        for _ in range(60):
            async with http.get(f"{stack.gateway_url}/api/clients/{tenant.client_id}", headers=wrong) as response:
                if response.status == 429:
                    assert int(response.headers["Retry-After"]) >= 1
                    return
                assert response.status == 401
    raise AssertionError("the gateway never limited wrong keys")


async def test_a_sign_in_refused_for_too_many_wrong_keys_says_how_long_to_wait(
    stack: Stack, database_url: str, browser: Any, artifacts: Path
) -> None:
    """Last in this module: the gateway then refuses this address for a few seconds, whatever the key."""
    words = await catalogues(stack)
    tenant = await create_tenant(database_url)
    for viewport, where in ((PHONE, "390"), (LAPTOP, "1366")):
        context, page, errors = await open_page(browser, viewport, "es-CO")
        await page.goto(f"{stack.gateway_url}/dashboard")
        await page.fill("#client-id", str(tenant.client_id))
        await page.fill("#api-key", tenant.api_key)  # the right key: refused all the same while the limit holds
        await guess_until_limited(stack, tenant)  # the limit refills a try every few seconds: just before
        await page.click("#sign-in button[type=submit]")
        await page.wait_for_selector("#sign-in-error:has-text('Demasiados intentos')")
        for lang in ("es", "en"):
            await language(page, lang)
            said = await page.locator("#sign-in-error").inner_text()
            prefix = words[lang]["error.rate"]["other"].split("{n}")[0]
            assert said.startswith(prefix) and any(c.isdigit() for c in said), said
            assert await page.locator("#dashboard").is_hidden()
            assert await page.evaluate("sessionStorage.getItem('wamux.key')") is None
            await no_horizontal_overflow(page)
            await page.screenshot(path=str(artifacts / f"sign-in-429-{lang}-{where}.png"), full_page=True)
            await accessible(page, f"sign-in refused ({lang}, {where} px)")
        assert errors == []
        await context.close()

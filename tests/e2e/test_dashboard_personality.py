"""A client runs its assistant from the dashboard (issue 9, items 1 and 2): it edits its personality, tries the
draft (nothing sent), saves it, and the next real customer message is answered in the new voice; then it connects a
second number by the QR code's link through the emulator's signup page and watches it become active, and downloads
that number's customer QR. At 390 px in Spanish and 1366 px in English and Spanish, with axe and screenshots."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from launcher.stack import Stack
from shared.prompting import personality_text
from tests.e2e.dashboard_pages import check_view, shown_qr_text, sign_in
from tests.e2e.test_message_path import eventually, outbox
from tests.support.tenants import Tenant, create_tenant, random_phone_number

pytestmark = pytest.mark.e2e
PROFILE = {
    "description": "Café Bruma, tostadores en Medellín desde 2009",
    "tone": "cercano y alegre, tutea",
    "offer": "reservas de mesa y café en grano por libra",
    "hours": "martes a domingo, 7 a 19",
    "never_say": "precios de la competencia",
}
FIELDS = {"description": "#p-description", "tone": "#p-tone", "offer": "#p-offer", "hours": "#p-hours"}


def voice(profile: dict[str, str]) -> str:
    """What the sandbox LLM stub echoes of a personality: its first characters, whitespace folded."""
    return " ".join(personality_text(profile).split())[:40]


async def customer_writes(stack: Stack, tenant: Tenant, wa_id: str, text: str) -> None:
    message = {
        "phone_number_id": tenant.phone_number_id,
        "display_phone_number": tenant.phone_number.lstrip("+"),
        "from": wa_id,
        "name": "Ana",
        "text": text,
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{stack.env['WAMUX_GRAPH_BASE_URL']}/_sandbox/customer_message", json=message) as r:
            assert r.status < 300, await r.text()


async def edit_try_and_save(page: Any) -> None:
    await page.click("[data-view=personality]")
    # Prefilled from the saved version: a personality from before the form opens as the business description.
    await page.wait_for_function("document.querySelector('#p-description').value.length > 0")
    assert await page.locator("#personality-current").inner_text() == "En uso: versión 1"
    for name, selector in FIELDS.items():
        await page.fill(selector, PROFILE[name])
    await page.fill("#p-never", PROFILE["never_say"])
    await page.select_option("#p-language", "es")

    await page.fill("#try-message", "¿Abren el lunes?")
    async with page.expect_response("**/personality/try") as tried:
        await page.click("#try-submit")
    assert (await (await tried.value).json())["sent"] is False
    await page.wait_for_selector("#try-result:not([hidden])")
    reply = await page.locator("#try-reply").inner_text()
    assert voice(PROFILE) in reply and "Re: ¿Abren el lunes?" in reply  # the unsaved draft's voice
    assert "borrador" in await page.locator("#try-which").inner_text()
    assert "No se envió nada" in await page.locator("#try-result").inner_text()

    await page.click("#personality-save")
    await page.wait_for_selector("#personality-status:has-text('versión 2')", timeout=20_000)
    first = page.locator("#history li").first
    assert await first.get_attribute("data-version") == "2"
    assert "ti (panel)" in await first.inner_text() and "en uso" in await first.inner_text()
    assert await page.locator("#history li").count() == 2

    # Saved: trying again without changes uses the saved version, not a draft.
    await page.fill("#try-message", "¿Tienen café en grano?")
    await page.click("#try-submit")
    await page.wait_for_selector("#try-which:has-text('versión 2')")
    assert voice(PROFILE) in await page.locator("#try-reply").inner_text()
    # What the page said is said again in the other language, and the form keeps what was typed.
    await page.select_option("#language", "en")
    await page.wait_for_selector("#try-which:has-text('Answer with version 2')")
    await page.wait_for_selector("#personality-status:has-text('Saved: this is now version 2')")
    assert await page.locator("#p-tone").input_value() == PROFILE["tone"]
    await page.select_option("#language", "es")
    await page.wait_for_selector("#personality-status:has-text('versión 2')")


async def connect_second_number(page: Any, artifacts: Path) -> str:
    e164 = random_phone_number()
    await page.click("[data-view=numbers]")
    await page.fill("#connect-phone", "12")
    await page.click("#connect button[type=submit]")
    await page.wait_for_selector("#connect-error:has-text('no es un número de teléfono válido')")

    await page.fill("#connect-phone", e164)
    await page.fill("#connect-name", "Café Bruma Centro")
    await page.click("#connect button[type=submit]")
    await page.wait_for_selector("#connect-result:not([hidden])")
    link = await page.locator("#connect-link").get_attribute("href")
    assert link and "/onboard/" in link
    assert await shown_qr_text(page, "#connect-qr") == link  # the QR a phone scans opens the same link
    assert await page.locator("#connect-steps li[aria-current=step]").count() == 1
    await page.screenshot(path=str(artifacts / "connect-qr-es-390.png"), full_page=True)

    signup = await page.context.new_page()
    await signup.goto(link)
    await signup.click("#action")  # the plain hosted-signup link: the emulator's consent page
    await signup.click("button[name=accept]")
    await signup.wait_for_load_state()
    await signup.close()

    await page.wait_for_selector("#connect-state[data-state=active]", timeout=60_000)
    assert await page.locator("#connect-steps li.done").count() == await page.locator("#connect-steps li").count()
    assert await page.locator("#connect-qr").is_hidden()
    row = page.locator("#numbers tr", has_text=e164)
    await row.locator("td.status.active").wait_for(timeout=20_000)
    return e164


async def customer_qr_downloads(page: Any, e164: str) -> None:
    row = page.locator("#numbers tr", has_text=e164)
    for kind, start in (("png", b"\x89PNG"), ("svg", b"<")):
        async with page.expect_download() as started:
            await row.locator(f"[data-qr={kind}]").click()
        download = await started.value
        assert download.suggested_filename == f"whatsapp-{e164.lstrip('+')}.{kind}"
        saved = Path(await download.path()).read_bytes()
        assert saved.startswith(start) and len(saved) > 100, saved[:40]


async def test_a_client_tunes_its_assistant_and_connects_a_second_number_from_the_dashboard(
    stack: Stack,
    database_url: str,
    browser: Any,
    artifacts: Path,
) -> None:
    tenant = await create_tenant(database_url, name="Café Bruma")

    phone = await browser.new_context(viewport={"width": 390, "height": 844}, locale="es-CO", accept_downloads=True)
    page = await phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(page, stack.gateway_url, tenant)
    await edit_try_and_save(page)
    await check_view(page, "personality", "es-390", artifacts)

    customer = "573001119777"
    await customer_writes(stack, tenant, customer, "Hola, ¿tienen mesa para dos?")
    (reply,) = await eventually(functools.partial(outbox, stack, tenant, customer), "the reply in the new voice")
    assert voice(PROFILE) in str(reply["text"]) and tenant.personality[:30] not in str(reply["text"])

    e164 = await connect_second_number(page, artifacts)
    await customer_qr_downloads(page, e164)
    await check_view(page, "numbers", "es-390", artifacts)
    await page.select_option("#language", "en")
    await page.wait_for_selector("html[lang=en]", state="attached")
    for view in ("numbers", "personality"):
        await check_view(page, view, "en-390", artifacts)
    assert errors == []
    await phone.close()

    laptop = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = await laptop.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(page, stack.gateway_url, tenant)
    await page.wait_for_selector(f"#numbers tr:has-text('{e164}') td.status.active")
    for language in ("en", "es"):
        await page.select_option("#language", language)
        await page.wait_for_selector(f"html[lang={language}]", state="attached")
        await check_view(page, "numbers", f"{language}-1366", artifacts)
        await check_view(page, "personality", f"{language}-1366", artifacts)
        assert await page.locator("#p-description").input_value() == PROFILE["description"]
        if language == "en":
            history = await page.locator("#history li").first.inner_text()
            assert "Version 2" in history and "you (dashboard)" in history
    assert errors == []
    await laptop.close()
    assert len(list(artifacts.iterdir())) == 9

"""The dashboard's views at a phone's and a laptop's size, in Spanish and in English: nothing overflows, each view
passes axe-core with no serious or critical violation, and a thread shows a voice note, a document and a location
for what they are. Screenshots of every view land in the test's ``artifacts/`` folder (not committed)."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from axe_playwright_python.async_playwright import Axe

from launcher.stack import Stack
from tests.e2e.test_message_path import eventually, outbox, post_webhook, signed
from tests.support.payloads import body, new_wamid, notification, text_message
from tests.support.tenants import Tenant, create_tenant

pytestmark = pytest.mark.e2e
SIZES = [(390, 844), (1366, 768)]
VIEWS = ["numbers", "usage", "conversations"]
BLOCKING = {"serious", "critical"}


async def customer_media(stack: Stack, tenant: Tenant, sender: str, name: str, media: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session:
        sent = await session.post(
            f"{stack.env['WAMUX_GRAPH_BASE_URL']}/_sandbox/customer_message",
            json={
                "phone_number_id": tenant.phone_number_id,
                "display_phone_number": tenant.phone_number.lstrip("+"),
                "from": sender,
                "name": name,
                "media": media,
            },
        )
        assert sent.status == 200, await sent.text()


async def seed_four_conversations(stack: Stack, tenant: Tenant) -> dict[str, str]:
    """Four customers (a text, a voice note, a document, a location), each answered: 4 of 5 free used, 80 %."""
    customers = {"Laura": "573001119101", "Pedro": "573001119102", "Sofía": "573001119103", "Marta": "573001119104"}
    raw = body(
        notification(tenant.phone_number_id, name="Laura", messages=[text_message("Hola", sender=customers["Laura"])])
    )
    assert await post_webhook(stack, raw, signed(raw)) == 200
    ogg = base64.b64encode(b"OggS" + bytes(512)).decode()
    await customer_media(
        stack,
        tenant,
        customers["Pedro"],
        "Pedro",
        {"type": "audio", "mime_type": "audio/ogg; codecs=opus", "data_base64": ogg},
    )
    pdf = base64.b64encode(b"%PDF-1.4\n" + bytes(256)).decode()
    document = {
        "type": "document",
        "mime_type": "application/pdf",
        "data_base64": pdf,
        "filename": "contrato-arriendo.pdf",
    }
    await customer_media(stack, tenant, customers["Sofía"], "Sofía", document)
    place = {"latitude": 4.6765, "longitude": -74.0483, "name": "Parque de la 93", "address": "Cl. 93A #11A-28, Bogotá"}
    located = {
        "from": customers["Marta"],
        "id": new_wamid(),
        "timestamp": text_message("")["timestamp"],
        "type": "location",
        "location": place,
    }
    raw = body(notification(tenant.phone_number_id, name="Marta", messages=[located]))
    assert await post_webhook(stack, raw, signed(raw)) == 200
    for who, wa_id in customers.items():
        await eventually(functools.partial(outbox, stack, tenant, wa_id), f"the AI's reply to {who}")
    return customers


async def no_horizontal_overflow(page: Any) -> None:
    width = await page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width[0]} px wide in a {width[1]} px window"


async def accessible(page: Any, where: str) -> None:
    results = await Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core"  # it ran, under the page's CSP
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    summary = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in blocking]
    assert blocking == [], f"axe-core in {where}: {summary}"


async def open_thread(page: Any, name: str) -> str:
    await page.locator("#conversations li button", has_text=name).click()
    await page.wait_for_selector(f"#thread-title:has-text('{name}')")
    await page.wait_for_selector("#thread li.outbound")
    return str(await page.locator("#thread").inner_text())


async def test_every_view_fits_a_phone_and_a_laptop_in_both_languages_and_passes_axe(
    stack: Stack,
    database_url: str,
    browser: Any,
    tmp_path: Path,
) -> None:
    tenant = await create_tenant(database_url, free_quota=5, name="Café Bruma")
    await seed_four_conversations(stack, tenant)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    words = {
        "es": ("Ubicación", "Nota de voz", "Documento: contrato-arriendo.pdf"),
        "en": ("Location", "Voice note", "Document: contrato-arriendo.pdf"),
    }
    for width, height in SIZES:
        context = await browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        await page.goto(f"{stack.gateway_url}/dashboard")
        await page.fill("#client-id", str(tenant.client_id))
        await page.fill("#api-key", tenant.api_key)
        await page.click("#sign-in button[type=submit]")
        await page.wait_for_selector(f"#numbers tr[data-phone-number-id='{tenant.phone_number_id}']")
        assert await page.locator("#business").inner_text() == "Café Bruma"
        assert await page.evaluate("document.documentElement.lang") == "es"  # the client's language, not the browser's
        for language in ("es", "en"):
            await page.select_option("#language", language)
            await page.wait_for_selector(f"html[lang={language}]", state="attached")
            # 4 of 5 free conversations used: the 80 % banner, saying what happens next under count_paid.
            banner = page.locator(".banner.warning")
            await banner.wait_for()
            assert "80" in await banner.inner_text()
            for view in VIEWS:
                await page.click(f"[data-view={view}]")
                await page.wait_for_selector(f"#view-{view}:not([hidden])")
                if view == "usage":
                    await page.wait_for_selector("#daily-chart svg rect", state="attached")
                    assert await page.locator("#daily-chart rect.conversations:not([height='0'])").count() >= 1
                    assert await page.locator("#daily-summary").inner_text()
                if view == "conversations":
                    location, voice, document = words[language]
                    assert location in await open_thread(page, "Marta")
                    assert "Parque de la 93" in await page.locator("#thread").inner_text()
                    assert voice in await open_thread(page, "Pedro") or await page.locator("#thread audio").count() == 1
                    assert await page.locator("#thread audio[controls]").count() == 1
                    assert document in await open_thread(page, "Sofía")
                    assert await page.locator("#conversations .on").first.inner_text() != ""
                await no_horizontal_overflow(page)
                await page.screenshot(path=str(artifacts / f"{view}-{language}-{width}.png"), full_page=True)
                await accessible(page, f"{view} ({language}, {width} px)")
        assert errors == []
        await context.close()
    assert len(list(artifacts.iterdir())) == len(SIZES) * 2 * len(VIEWS)


async def test_a_wrong_key_a_network_failure_and_an_idle_session_are_said_in_plain_words(
    stack: Stack,
    database_url: str,
    browser: Any,
) -> None:
    tenant = await create_tenant(database_url)
    context = await browser.new_context(locale="es-CO")
    page = await context.new_page()
    await page.goto(f"{stack.gateway_url}/dashboard")
    await page.fill("#client-id", str(tenant.client_id))
    await page.fill("#api-key", "wmx_not-the-key")
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#sign-in-error:has-text('no coinciden')")  # the browser's Spanish
    assert "wmx_" not in page.url and await page.evaluate("sessionStorage.getItem('wamux.key')") is None

    await page.fill("#api-key", tenant.api_key)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#business:has-text('Inmobiliaria Test')")
    # 31 minutes without touching the page: the next look at the clock signs out and says why.
    await page.evaluate("sessionStorage.setItem('wamux.active', String(Date.now() - 31 * 60 * 1000))")
    await page.reload()
    await page.wait_for_selector("#sign-in-error:has-text('30 minutos')")
    assert await page.locator("#dashboard").is_hidden()
    assert await page.evaluate("sessionStorage.getItem('wamux.key')") is None

    await page.fill("#api-key", tenant.api_key)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector("#business:has-text('Inmobiliaria Test')")
    await context.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    await page.wait_for_selector("#sign-in-error:has-text('No se puede conectar con wamux')", timeout=15_000)
    await context.close()

"""The client dashboard in a real headless Chromium, against the whole platform running as processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.stack import Stack
from tests.e2e.test_message_path import eventually, outbox, post_webhook, signed
from tests.support.payloads import body, notification, text_message
from tests.support.tenants import create_tenant

pytestmark = pytest.mark.e2e


async def test_a_client_signs_in_and_sees_its_number_usage_and_conversation(
    stack: Stack,
    database_url: str,
    browser,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    tenant = await create_tenant(database_url)
    customer = "573001119001"
    raw = body(
        notification(
            tenant.phone_number_id,
            name="Laura",
            messages=[text_message("¿Tienen apartamentos en Chapinero?", sender=customer)],
        )
    )
    assert await post_webhook(stack, raw, signed(raw)) == 200
    await eventually(lambda: outbox(stack, tenant, customer), "the AI reply")

    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{stack.gateway_url}/dashboard?client={tenant.client_id}")
    await page.fill("#api-key", "wrong-key")
    await page.click("button[type=submit]")
    await page.wait_for_selector("#sign-in-error:has-text('do not match')")

    await page.fill("#api-key", tenant.api_key)
    await page.click("button[type=submit]")
    row = page.locator(f"#numbers tr[data-phone-number-id='{tenant.phone_number_id}']")
    await row.wait_for()
    assert await page.locator("#sign-in").is_hidden()
    assert await row.locator("td.number").inner_text() == f"{tenant.phone_number} · Test"
    await page.wait_for_function(
        "document.querySelector('.free-remaining') && document.querySelector('.free-remaining').innerText"
        ".startsWith('999 de 1000')",
        timeout=15_000,
    )  # the reply's conversation was counted (within a refresh), in the client's language (Spanish)
    assert await page.locator("#business").inner_text() == "Inmobiliaria Test"
    await page.click("[data-view=conversations]")
    conversation = page.locator("#conversations li button", has_text="Laura")
    await conversation.click()
    await page.wait_for_selector("#thread li.outbound")
    thread = await page.locator("#thread").inner_text()
    assert "¿Tienen apartamentos en Chapinero?" in thread
    assert tenant.personality[:30] in thread  # the AI's reply, in the client's personality
    await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert errors == []

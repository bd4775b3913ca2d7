"""The signup link clicked through in a real headless Chromium: wamux's page, then Meta's side (the emulator) either
as the hosted signup page, back to wamux's callback, or as Embedded Signup's popup opened by the JS SDK's stand-in,
whose answer the page posts to ``/onboard/{token}/complete``; then the status page. The directory runs as a
process; the broker and the database are the real ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gateway.settings import GatewaySettings
from services.gateway.tests.signup_support import (
    free_port,
    gateway_settings,
    register_for_signup,
    running_directory,
    running_gateway,
    wait_until,
)
from shared.messaging.runtime import Infrastructure
from tests.support.broker import Tap
from tests.support.sandbox import Sandbox
from tests.support.tenants import random_phone_number

pytestmark = pytest.mark.e2e


async def test_a_client_opens_the_link_accepts_on_meta_s_page_and_lands_on_the_status_page(
    browser: object, settings: GatewaySettings, infra: Infrastructure, tap: Tap, sandbox: Sandbox, tmp_path: Path
) -> None:
    own = gateway_settings(settings, port=free_port(), graph_url=sandbox.graph_url)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    async with running_directory(own, infra, artifacts / "directory.log"), running_gateway(own) as url:
        onboarding = await register_for_signup(infra, tap, phone_number=random_phone_number(), language="en")
        page = await browser.new_page()  # type: ignore[attr-defined]
        callbacks: list[str] = []
        page.on(
            "request", lambda request: callbacks.append(request.url) if "/onboard/callback" in request.url else None
        )

        await page.goto(f"{url}/onboard/{onboarding.token}")
        await page.screenshot(path=str(artifacts / "1-link.png"), full_page=True)
        await page.click("#action")  # "Connect WhatsApp": to the hosted signup (the emulator)
        await page.wait_for_url(f"{sandbox.graph_url}/messaging/whatsapp/onboard/**")
        await page.screenshot(path=str(artifacts / "2-meta.png"), full_page=True)
        await page.click("button[name=accept]")
        await page.wait_for_url(f"{url}/onboard/{onboarding.token}/status", timeout=15_000)
        await page.screenshot(path=str(artifacts / "3-status.png"), full_page=True)
        assert "Connecting" in await page.inner_text("h1") or "is connected" in await page.inner_text("h1")

        assert len(callbacks) == 1, callbacks
        meta_said = {name: values[0] for name, values in parse_qs(urlsplit(callbacks[0]).query).items()}
        assert meta_said["state"] == onboarding.token
        published = await tap.wait_for(
            "number.complete_signup", where=lambda m: m["data"]["onboarding_id"] == str(onboarding.onboarding_id)
        )
        assert published[0]["data"] == {
            "onboarding_id": str(onboarding.onboarding_id),
            "code": meta_said["code"],
            "waba_id": meta_said["waba_id"],
            "phone_number_id": meta_said["phone_number_id"],
            "business_id": meta_said["business_id"],
            "link_id": str(onboarding.link_id),
        }
        # The directory carries the signup out against the emulator (code exchange, subscribe, register, read back):
        # the status page refreshes itself until it says so.
        await wait_until(
            infra,
            "SELECT state = 'active' FROM directory_read.onboardings WHERE id = $1",
            onboarding.onboarding_id,
            timeout=30,
        )
        await page.wait_for_function(
            "document.querySelector('h1').textContent.includes('is connected')", timeout=15_000
        )
        await page.screenshot(path=str(artifacts / "4-connected.png"), full_page=True)
        assert await infra.pool.fetchval(
            "SELECT used_at IS NOT NULL FROM directory_read.signup_links WHERE id = $1", onboarding.link_id
        )


def favicon(message: Any) -> bool:
    return str(message.location.get("url", "")).endswith("/favicon.ico")


async def open_the_popup(page: Any, url: str, token: str, sandbox: Sandbox) -> Any:
    """wamux's page, its button (enabled once the SDK loaded), Meta's popup on the emulator's signup page."""
    await page.goto(f"{url}/onboard/{token}")
    await page.wait_for_selector("#popup:not([disabled])", timeout=10_000)
    async with page.expect_popup() as opened:
        await page.click("#popup")  # "Connect WhatsApp": FB.login opens Meta's window
    popup = await opened.value
    await popup.wait_for_load_state()
    assert popup.url.startswith(f"{sandbox.graph_url}/messaging/whatsapp/onboard/?"), popup.url
    return popup


@pytest.mark.parametrize("coexistence", [False, True], ids=["cloud_api", "coexistence"])
async def test_a_client_connects_in_meta_s_popup_and_the_page_follows_the_onboarding_until_active(
    browser: object,
    settings: GatewaySettings,
    infra: Infrastructure,
    tap: Tap,
    sandbox: Sandbox,
    tmp_path: Path,
    coexistence: bool,
) -> None:
    own = gateway_settings(settings, port=free_port(), graph_url=sandbox.graph_url)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    async with running_directory(own, infra, artifacts / "directory.log"), running_gateway(own) as url:
        onboarding = await register_for_signup(
            infra, tap, phone_number=random_phone_number(), language="en", coexistence=coexistence
        )
        page = await browser.new_page()  # type: ignore[attr-defined]
        problems: list[str] = []
        # Script errors and CSP refusals land in the console (the browser's own favicon.ico probe is not one).
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not favicon(m) else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        posted: list[str] = []
        page.on("request", lambda r: posted.append(r.post_data or "") if r.url.endswith("/complete") else None)

        popup = await open_the_popup(page, url, onboarding.token, sandbox)
        await page.screenshot(path=str(artifacts / "1-link.png"), full_page=True)
        await popup.screenshot(path=str(artifacts / "2-meta-popup.png"), full_page=True)
        async with popup.expect_event("close", timeout=10_000):  # the popup answers, then closes itself
            await popup.click("button[name=accept]")
        await page.wait_for_url(f"{url}/onboard/{onboarding.token}/status", timeout=15_000)
        await page.screenshot(path=str(artifacts / "3-status.png"), full_page=True)

        assert len(posted) == 1 and not problems, (posted, problems)  # CSP or script errors show up here
        sent = json.loads(posted[0])
        published = await tap.wait_for(
            "number.complete_signup", where=lambda m: m["data"]["onboarding_id"] == str(onboarding.onboarding_id)
        )
        assert published[0]["data"] == {
            "onboarding_id": str(onboarding.onboarding_id),
            "code": sent["code"],
            "waba_id": sent["waba_id"],
            # Coexistence's finish names only the WABA: the directory finds the number under it.
            "phone_number_id": None if coexistence else sent["phone_number_id"],
            "business_id": None if coexistence else sent["business_id"],
            "link_id": str(onboarding.link_id),
        }
        assert ("phone_number_id" in sent) is not coexistence
        await wait_until(
            infra,
            "SELECT state = 'active' FROM directory_read.onboardings WHERE id = $1",
            onboarding.onboarding_id,
            timeout=30,
        )
        await page.wait_for_selector("h1:has-text('is connected')", timeout=15_000)  # a selector: the CSP forbids eval
        await page.screenshot(path=str(artifacts / "4-connected.png"), full_page=True)


async def test_a_client_who_cancels_in_meta_s_popup_is_told_so_and_can_start_again(
    browser: object, settings: GatewaySettings, infra: Infrastructure, tap: Tap, sandbox: Sandbox, tmp_path: Path
) -> None:
    own = gateway_settings(settings, port=free_port(), graph_url=sandbox.graph_url)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    async with running_directory(own, infra, artifacts / "directory.log"), running_gateway(own) as url:
        onboarding = await register_for_signup(infra, tap, phone_number=random_phone_number(), language="es")
        page = await browser.new_page()  # type: ignore[attr-defined]
        popup = await open_the_popup(page, url, onboarding.token, sandbox)
        async with popup.expect_event("close", timeout=10_000):  # the popup answers, then closes itself
            await popup.click("button[name=cancel]")
        await page.wait_for_selector("#popup:not([disabled])", timeout=10_000)
        await page.screenshot(path=str(artifacts / "cancelled.png"), full_page=True)
        said = await page.inner_text("#popup-status")
        assert "se cerró en el paso PHONE NUMBER SETUP" in said, said
        assert page.url == f"{url}/onboard/{onboarding.token}"
        await tap.drained()
        assert not [
            m
            for m in tap.of_type("number.complete_signup")
            if m["data"]["onboarding_id"] == str(onboarding.onboarding_id)
        ]

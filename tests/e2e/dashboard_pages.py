"""Driving the dashboard in Chromium: signing in, the checks every view passes (no sideways scroll, axe-core),
and reading a QR code the page shows from a blob: URL."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import png as pypng
import zxingcpp

from tests.e2e.test_dashboard_views import accessible, no_horizontal_overflow
from tests.support.tenants import Tenant

# The page's CSP allows no fetch of a blob: URL; a canvas may draw it (same origin), and gives its pixels back.
_IMAGE_AS_PNG = """(selector) => {
  const image = document.querySelector(selector);
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  canvas.getContext("2d").drawImage(image, 0, 0);
  return canvas.toDataURL("image/png").split(",")[1];
}"""


async def sign_in(page: Any, base_url: str, tenant: Tenant) -> None:
    await page.goto(f"{base_url}/dashboard")
    await page.fill("#client-id", str(tenant.client_id))
    await page.fill("#api-key", tenant.api_key)
    await page.click("#sign-in button[type=submit]")
    await page.wait_for_selector(f"#numbers tr[data-phone-number-id='{tenant.phone_number_id}']")


async def shown_qr_text(page: Any, selector: str) -> str:
    """What the QR code in ``selector`` (an <img> from a blob: URL) says, as a phone's camera would read it."""
    await page.wait_for_function(
        "(s) => { const i = document.querySelector(s); return i && i.src.startsWith('blob:') && i.complete "
        "&& i.naturalWidth > 0; }",
        arg=selector,
    )
    encoded = await page.evaluate(_IMAGE_AS_PNG, selector)
    width, height, rows, _ = pypng.Reader(bytes=base64.b64decode(encoded)).asRGBA8()
    pixels = np.array([list(row) for row in rows], dtype=np.uint8).reshape(height, width, 4)[:, :, 0]
    found = zxingcpp.read_barcodes(np.ascontiguousarray(pixels))
    assert found, f"no QR code readable in {selector}"
    return str(found[0].text)


async def check_view(page: Any, view: str, where: str, artifacts: Path) -> None:
    """The view fits the window, passes axe-core, and is kept as a screenshot."""
    await page.click(f"[data-view={view}]")
    await page.wait_for_selector(f"#view-{view}:not([hidden])")
    await no_horizontal_overflow(page)
    await page.screenshot(path=str(artifacts / f"{view}-{where}.png"), full_page=True)
    await accessible(page, f"{view} ({where})")


async def start_connect(page: Any, e164: str, name: str) -> tuple[str, str]:
    """The Numbers view's "connect a number" for ``e164``: the onboarding's id and the signup link it shows."""
    await page.click("[data-view=numbers]")
    await page.fill("#connect-phone", e164)
    await page.fill("#connect-name", name)
    await page.click("#connect button[type=submit]")
    await page.wait_for_selector("#connect-result:not([hidden])")
    await page.wait_for_selector("#connect-link[href*='/onboard/']", state="attached")
    link = await page.locator("#connect-link").get_attribute("href")
    onboarding_id = await page.locator("#connect-result").get_attribute("data-onboarding-id")
    assert link and onboarding_id
    return str(onboarding_id), str(link)


async def accept_signup(context: Any, link: str) -> None:
    """The client opens the signup link and accepts on the emulator's hosted signup (Meta's consent page)."""
    signup = await context.new_page()
    await signup.goto(link)
    await signup.click("#action")
    await signup.click("button[name=accept]")
    await signup.wait_for_load_state()
    await signup.close()

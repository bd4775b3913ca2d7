"""``make onboard``: an operator onboards a new client against the running demo, as a CRM would over REST.

It creates the client (``POST /api/clients``, with the operator's key), registers its number
(``POST /api/register-client-number``), prints the signup link and its QR code, and follows the onboarding
(``GET /api/onboardings/{id}``) until the number is active — then says how to write to it and how long it took.
The client opens the link (or scans the QR code) and accepts on Meta's page — locally, the emulator's stand-in;
``--accept`` plays the client too, clicking through the same pages a browser would (the link, Meta's page, the
redirect back), which is how the demo's end-to-end test and the timing in the README were made.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from html.parser import HTMLParser
from typing import Any

import aiohttp
import qrcode

from launcher.demo import DEMO_OPERATOR_KEY

PERSONALITY = (
    "Café de especialidad en Medellín. Cercano y alegre, tutea. Ofrece el menú del día y reservas de mesa; "
    "abre de martes a domingo de 8 a 20 h."
)


class _Page(HTMLParser):
    """The links and the one form of an HTML page (the signup pages are plain server-rendered HTML)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.form: dict[str, str] = {}
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        elif tag == "form":
            self.action = values.get("action", "")
        elif tag in ("input", "button") and values.get("name"):
            self.form[values["name"]] = values.get("value", "")


class OnboardFailed(Exception):
    pass


async def _json(answer: aiohttp.ClientResponse, expected: tuple[int, ...]) -> dict[str, Any]:
    """The answer's JSON; the API's own words when it refused (``{"error": …}``, every /api error)."""
    try:
        body = await answer.json(content_type=None)
    except ValueError:
        body = {"error": (await answer.text())[:300]}
    if answer.status not in expected:
        words = body.get("error", body) if isinstance(body, dict) else body
        raise OnboardFailed(f"{answer.method} {answer.url.path}: {answer.status}: {words}")
    return dict(body)


async def accept_as_the_client(session: aiohttp.ClientSession, signup_url: str) -> None:
    """What the client's browser does: open the link, follow it to Meta's page, accept, come back."""
    async with session.get(signup_url) as answer:
        page = _Page()
        page.feed(await answer.text())
    hosted = next((link for link in page.links if "/messaging/whatsapp/onboard/" in link), None)
    if answer.status != 200 or hosted is None:
        raise OnboardFailed(f"the signup link answered {answer.status} without Meta's signup button")
    async with session.get(hosted) as answer:
        consent = _Page()
        consent.feed(await answer.text())
    async with session.post(answer.url.with_query(None), data=consent.form) as answer:  # back through the callback
        if answer.status != 200:
            raise OnboardFailed(f"accepting on Meta's page ended in {answer.status} at {answer.url.path}")


async def onboard(args: argparse.Namespace) -> int:
    base = args.gateway.rstrip("/")
    headers = {"Authorization": f"Bearer {args.operator_key}"}
    started = time.monotonic()
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as api:
        new = {"name": args.name, "personality": args.personality, "timezone": "America/Bogota"}
        async with api.post(f"{base}/api/clients", json=new) as answer:
            client = await _json(answer, (201, 202))
        registration = {"client_id": client["client_id"], "phone_number": args.phone, "coexistence": args.coexistence}
        async with api.post(f"{base}/api/register-client-number", json=registration) as answer:
            onboarding = await _json(answer, (200, 202))
        print(f"client {args.name}: {client['client_id']}  (its API key, shown once: {client['api_key']})")
        print(f"onboarding {onboarding['onboarding_id']} of {onboarding['phone_number']}")
        print(f"\nThe client opens this link, or scans the QR code, and accepts:\n  {onboarding['signup_url']}\n")
        code = qrcode.QRCode(border=1)
        code.add_data(onboarding["signup_url"])
        code.print_ascii(invert=True)
        print(f"  (PNG: {base}{onboarding['qr_png_url']}  SVG: {base}{onboarding['qr_svg_url']}, operator key)\n")
        if args.accept:
            async with aiohttp.ClientSession() as browser:
                await accept_as_the_client(browser, onboarding["signup_url"])
        print("waiting for the client to accept on Meta's page…", flush=True)
        state = await follow(api, f"{base}{onboarding['state_url']}", args.wait_s)
    took = time.monotonic() - started
    if state["state"] != "active":
        error = state.get("error") or {}
        print(f"the onboarding {state['state']} at {state['step']}: {error.get('text', 'no error given')}")
        return 1
    print(f"\n{state['phone_number']} is active for {args.name} ({took:.1f} s from the first call).")
    print(f'Write to it:  make customer PHONE_NUMBER_ID={state["phone_number_id"]} MSG="Hola, ¿tienen mesa?"')
    return 0


async def follow(api: aiohttp.ClientSession, url: str, wait_s: float) -> dict[str, Any]:
    deadline, last = time.monotonic() + wait_s, ""
    while True:
        async with api.get(url) as answer:
            state = await _json(answer, (200, 404))  # 404 for a moment: the directory has not stored it yet
        if answer.status == 200:
            if f"{state['state']}/{state['step']}" != last:
                last = f"{state['state']}/{state['step']}"
                print(f"  {last}", flush=True)
            if state["state"] in ("active", "failed"):
                return state
        if time.monotonic() > deadline:
            raise OnboardFailed(f"not active after {wait_s:.0f} s (last: {last or 'not stored yet'})")
        await asyncio.sleep(0.25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make onboard", description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="Café Bruma")
    parser.add_argument("--phone", default="+57 300 555 0142", help="the client's number, E.164 preferred")
    parser.add_argument("--personality", default=PERSONALITY)
    parser.add_argument("--coexistence", action="store_true", help="the number stays on the WhatsApp Business app")
    parser.add_argument("--accept", action="store_true", help="play the client: click through the signup pages")
    parser.add_argument("--gateway", default=f"http://127.0.0.1:{os.environ.get('WAMUX_GATEWAY_PORT', '8080')}")
    parser.add_argument("--operator-key", default=os.environ.get("WAMUX_OPERATOR_API_KEY", DEMO_OPERATOR_KEY))
    parser.add_argument("--wait-s", type=float, default=600.0, help="how long to follow the onboarding")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(onboard(args))
    except (OnboardFailed, aiohttp.ClientError, TimeoutError) as exc:
        print(f"onboard: {exc or type(exc).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""A new client onboards a number on the running platform as the demo shows it: the operator's REST calls
(``make onboard``'s code), the client opening the signup link and accepting on the emulator's hosted signup page,
the directory connecting the number with Meta — and the number then answers customers in the new client's voice."""

from __future__ import annotations

import argparse
import re
import time

import aiohttp
import pytest
from yarl import URL

from launcher.onboard import _Page, onboard
from launcher.stack import Stack
from shared.logging import mask_phone
from tests.e2e.conftest import OPERATOR_KEY
from tests.e2e.test_message_path import eventually
from tests.support.tenants import random_phone_number

PERSONALITY = "Café Bruma en Medellín: cercano y alegre, ofrece reservas de martes a domingo."


async def test_a_client_onboarded_through_its_signup_link_gets_its_customers_answered_in_its_voice(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    e164 = random_phone_number()
    args = argparse.Namespace(
        name="Café Bruma",
        phone=e164,
        personality=PERSONALITY,
        coexistence=False,
        accept=True,
        gateway=stack.gateway_url,
        operator_key=OPERATOR_KEY,
        wait_s=60.0,
    )
    started = time.monotonic()
    assert await onboard(args) == 0, capsys.readouterr().out
    took = time.monotonic() - started
    printed = capsys.readouterr().out
    (pnid,) = re.findall(r"make customer PHONE_NUMBER_ID=([0-9]+)", printed)
    assert "/onboard/" in printed and "active" in printed
    print(f"onboarding took {took:.2f} s end to end")  # reported on the issue

    reply = await answered(stack, pnid, e164, "573001119900", "Hola, ¿tienen mesa para dos?")
    assert PERSONALITY[:40] in str(reply["text"])


async def answered(stack: Stack, pnid: str, e164: str, customer: str, text: str) -> dict[str, object]:
    """A customer writes to the newly connected number (the emulator plays it); the reply the number sends."""
    graph = stack.env["WAMUX_GRAPH_BASE_URL"]
    async with aiohttp.ClientSession() as session:
        message = {"phone_number_id": pnid, "display_phone_number": e164.lstrip("+"), "from": customer, "text": text}
        async with session.post(f"{graph}/_sandbox/customer_message", json={**message, "name": "Ana"}) as answer:
            assert answer.status < 300, await answer.text()

        async def replies() -> list[dict[str, object]]:
            params = {"phone_number_id": pnid, "to": customer}
            async with session.get(f"{graph}/_sandbox/outbox", params=params) as answer:
                return list(await answer.json())

        (reply,) = await eventually(replies, f"the reply of {mask_phone(e164)}", timeout=30)
    return reply


HOSTED_PERSONALITY = "Panadería Alborada en Pereira: amable y breve, hornea pandebono desde las seis de la mañana."


async def test_a_hosted_signup_is_finished_by_meta_s_partner_added_webhook_with_nothing_handed_back_to_the_browser(
    stack: Stack,
) -> None:
    """Meta's Hosted Embedded Signup hands the browser nothing back (onboarding-facts §2): the client accepts on a
    hosted link without ``redirect_uri``, so nothing reaches ``/onboard/callback``; the emulator's ``account_update``
    PARTNER_ADDED webhook goes to the gateway, the router announces it, and the directory finishes the onboarding."""
    base = stack.gateway_url
    e164 = random_phone_number()
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    async with aiohttp.ClientSession(headers=operator) as api:
        new = {"name": "Panadería Alborada", "personality": HOSTED_PERSONALITY, "timezone": "America/Bogota"}
        async with api.post(f"{base}/api/clients", json=new) as answer:
            assert answer.status in (201, 202), await answer.text()
            client = await answer.json()
        registration = {"client_id": client["client_id"], "phone_number": e164, "coexistence": False}
        async with api.post(f"{base}/api/register-client-number", json=registration) as answer:
            assert answer.status in (200, 202), await answer.text()
            onboarding = await answer.json()

        async with aiohttp.ClientSession() as browser:
            async with browser.get(onboarding["signup_url"]) as answer:
                assert answer.status == 200, await answer.text()
                page = _Page()
                page.feed(await answer.text())
            (linked,) = [URL(link) for link in page.links if "/messaging/whatsapp/onboard/" in link]
            assert {"redirect_uri", "state"} <= set(linked.query)  # wamux's link has them; Meta's hosted page has not
            hosted = linked.with_query({k: v for k, v in linked.query.items() if k not in ("redirect_uri", "state")})
            async with browser.get(hosted) as answer:
                assert answer.status == 200, await answer.text()
                consent = _Page()
                consent.feed(await answer.text())
            assert consent.form and not {"redirect_uri", "state"} & set(consent.form)
            async with browser.post(hosted.with_query(None), data=consent.form, allow_redirects=False) as answer:
                assert answer.status == 200 and "Location" not in answer.headers, await answer.text()

        async def active() -> dict[str, object] | None:
            async with api.get(f"{base}{onboarding['state_url']}") as answer:
                if answer.status != 200:
                    return None  # 404 for a moment: the directory has not stored it yet
                state = dict(await answer.json())
            assert state["state"] != "failed", state
            return state if state["state"] == "active" else None

        state = await eventually(active, "the onboarding finished by Meta's PARTNER_ADDED webhook", timeout=60)
    pnid = str(state["phone_number_id"])
    assert state["phone_number"] == e164 and pnid.isdigit()

    reply = await answered(stack, pnid, e164, "573001119911", "Buenos días, ¿ya salió el pandebono?")
    assert HOSTED_PERSONALITY[:40] in str(reply["text"])

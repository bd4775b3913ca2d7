"""A new client onboards a number on the running platform as the demo shows it: the operator's REST calls
(``make onboard``'s code), the client opening the signup link and accepting on the emulator's hosted signup page,
the directory connecting the number with Meta — and the number then answers customers in the new client's voice."""

from __future__ import annotations

import argparse
import re
import time

import aiohttp
import pytest

from launcher.onboard import onboard
from launcher.stack import Stack
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

    graph = stack.env["WAMUX_GRAPH_BASE_URL"]
    customer = "573001119900"
    async with aiohttp.ClientSession() as session:
        message = {
            "phone_number_id": pnid,
            "display_phone_number": e164.lstrip("+"),
            "from": customer,
            "name": "Ana",
            "text": "Hola, ¿tienen mesa para dos?",
        }
        async with session.post(f"{graph}/_sandbox/customer_message", json=message) as answer:
            assert answer.status < 300, await answer.text()

        async def replies() -> list[dict[str, object]]:
            params = {"phone_number_id": pnid, "to": customer}
            async with session.get(f"{graph}/_sandbox/outbox", params=params) as answer:
                return list(await answer.json())

        (reply,) = await eventually(replies, "the new number's reply", timeout=30)
    assert PERSONALITY[:40] in str(reply["text"])

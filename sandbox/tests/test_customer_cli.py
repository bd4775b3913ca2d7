"""``wamux-customer`` against the emulator and a stand-in gateway that answers like wamux would."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox import customer
from sandbox.testing import Delivery, WebhookReceiver

PNID = "106540352242922"
StartEmulator = Callable[..., Awaitable[str]]


def answer_like_wamux(gateway: WebhookReceiver, emulator: str, token: str) -> set[asyncio.Task[Any]]:
    """After the 200, reply "Re: <text>" through the Graph API, as the real pipeline would."""
    tasks: set[asyncio.Task[Any]] = set()

    async def reply(to: str, text: str) -> None:
        body = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": f"Re: {text}"}}
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{emulator}/v23.0/{PNID}/messages", json=body, headers=headers) as response:
                assert response.status == 200

    async def on_delivery(delivery: Delivery) -> None:
        value = delivery.json()["entry"][0]["changes"][0]["value"]
        for message in value.get("messages", []):
            tasks.add(asyncio.create_task(reply(message["from"], message["text"]["body"])))

    gateway.on_delivery = on_delivery
    return tasks


async def test_prints_the_reply_and_the_round_trip_time(
    start_emulator: StartEmulator, gateway: WebhookReceiver, auth: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = await start_emulator()
    tasks = answer_like_wamux(gateway, emulator, auth["Authorization"].removeprefix("Bearer "))

    code = await customer.run(
        ["--phone-number-id", PNID, "--from", "573009998877", "--emulator", emulator, "--timeout", "5", "Hola", "Luna"]
    )

    await asyncio.gather(*tasks)
    out, err = capsys.readouterr()
    assert code == 0
    assert out.strip() == "Re: Hola Luna"
    assert re.search(r"\(\d+ ms\)", err)


async def test_exits_2_when_the_gateway_rejects(
    emulator: str, gateway: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.answers.append(403)

    code = await customer.run(["--phone-number-id", PNID, "--emulator", emulator, "hi"])

    assert code == 2
    assert "gateway rejected the webhook with HTTP 403" in capsys.readouterr().err


async def test_exits_1_when_no_reply_comes_in_time(
    emulator: str, gateway: WebhookReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await customer.run(["--phone-number-id", PNID, "--emulator", emulator, "--timeout", "0.3", "hi"])

    assert code == 1
    assert "no reply within 0.3 s" in capsys.readouterr().err
    assert (await gateway.next()).json()["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "hi"


async def test_exits_2_when_the_emulator_is_unreachable(capsys: pytest.CaptureFixture[str]) -> None:
    code = await customer.run(["--phone-number-id", PNID, "--emulator", "http://127.0.0.1:9", "hi"])

    assert code == 2
    assert "emulator unreachable" in capsys.readouterr().err


async def test_sends_a_file_as_media_with_the_text_as_caption(
    emulator: str, gateway: WebhookReceiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    menu = tmp_path / "menu.pdf"
    menu.write_bytes(b"%PDF-1.4 carta")
    argv = ["--phone-number-id", PNID, "--emulator", emulator, "--timeout", "0.2", "--media", str(menu), "la carta"]

    code = await customer.run(argv)

    assert code == 1  # nobody answers here; the message itself went through
    message = (await gateway.next()).json()["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "document"
    document = message["document"]
    assert (document["caption"], document["filename"], document["mime_type"]) == (
        "la carta",
        "menu.pdf",
        "application/pdf",
    )
    assert document["sha256"] == base64.b64encode(hashlib.sha256(b"%PDF-1.4 carta").digest()).decode()


async def test_exits_2_when_the_media_file_is_missing(
    emulator: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await customer.run(["--phone-number-id", PNID, "--emulator", emulator, "--media", str(tmp_path / "no.jpg")])

    assert code == 2
    assert "cannot read" in capsys.readouterr().err

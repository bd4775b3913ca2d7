"""``wamux-customer``: play a WhatsApp customer against the emulator and wait for the business's reply.

    python -m sandbox.customer --phone-number-id PNID "Hola, ¿abren hoy?"
    python -m sandbox.customer --phone-number-id PNID          # interactive: one message per line
    python -m sandbox.customer --phone-number-id PNID --media foto.jpg "¿Tienen este?"   # text is the caption

Each message goes through the emulator (signed inbound webhook to the gateway); the reply is the next
message the emulator accepts for that customer from that number. Exit codes: 0 replied, 1 no reply in
time, 2 the gateway or the emulator refused the message.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

POLL_INTERVAL_S = 0.1
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


class Refused(Exception):
    """The emulator could not deliver the message or the gateway did not accept it."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wamux-customer", description="Play a WhatsApp customer.")
    parser.add_argument("--phone-number-id", required=True, help="the business number's phone_number_id")
    parser.add_argument("--display-phone-number", help="defaults to the emulator's number registry")
    parser.add_argument("--from", dest="wa_id", default="573001112233", help="the customer's wa_id")
    parser.add_argument("--name", default="Ana", help="the customer's profile name")
    parser.add_argument("--emulator", default="http://127.0.0.1:8081", help="the Graph emulator's URL")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply")
    parser.add_argument("--media", type=Path, help="send this file; the text becomes its caption")
    parser.add_argument("--media-type", choices=MEDIA_TYPES, help="defaults from the file's extension")
    parser.add_argument("text", nargs="*", help="the message; none starts an interactive session")
    return parser.parse_args(argv)


def media_payload(path: Path, kind: str | None, caption: str) -> dict[str, Any]:
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind is None:
        major = mime_type.split("/")[0]
        kind = "sticker" if mime_type == "image/webp" else major if major in MEDIA_TYPES else "document"
    media: dict[str, Any] = {
        "type": kind,
        "mime_type": mime_type,
        "data_base64": base64.b64encode(path.read_bytes()).decode(),
    }
    if caption and kind in ("image", "video", "document"):  # the only types Meta gives a caption
        media["caption"] = caption
    if kind == "document":
        media["filename"] = path.name
    return media


async def send(session: aiohttp.ClientSession, args: argparse.Namespace, text: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"phone_number_id": args.phone_number_id, "from": args.wa_id, "name": args.name}
    if args.media is not None:
        payload["media"] = media_payload(args.media, args.media_type, text)
    else:
        payload["text"] = text
    if args.display_phone_number:
        payload["display_phone_number"] = args.display_phone_number
    async with session.post(f"{args.emulator}/_sandbox/customer_message", json=payload) as response:
        answer: dict[str, Any] = await response.json(content_type=None)
        if response.status != 200:
            raise Refused(f"emulator answered HTTP {response.status}: {answer.get('error', answer)}")
    status = answer.get("gateway_status")
    if not isinstance(status, int) or not 200 <= status < 300:
        raise Refused(f"gateway rejected the webhook with HTTP {status}")
    return answer


async def wait_for_replies(
    session: aiohttp.ClientSession, args: argparse.Namespace, since: str
) -> list[dict[str, Any]]:
    params = {"to": args.wa_id, "phone_number_id": args.phone_number_id, "since": since}
    deadline = time.monotonic() + args.timeout
    while True:
        async with session.get(f"{args.emulator}/_sandbox/outbox", params=params) as response:
            response.raise_for_status()
            replies: list[dict[str, Any]] = await response.json()
        if replies or time.monotonic() >= deadline:
            return replies
        await asyncio.sleep(POLL_INTERVAL_S)


async def converse(session: aiohttp.ClientSession, args: argparse.Namespace, text: str) -> int:
    started = time.monotonic()
    try:
        answer = await send(session, args, text)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    replies = await wait_for_replies(session, args, answer["sent_at"])
    if not replies:
        print(f"error: no reply within {args.timeout:g} s (message {answer['wamid']})", file=sys.stderr)
        return 1
    elapsed_ms = (time.monotonic() - started) * 1000
    for reply in replies:
        print(reply["text"] if reply["text"] is not None else f"[{reply['type']} message]")
    print(f"({elapsed_ms:.0f} ms)", file=sys.stderr)
    return 0


async def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.emulator = args.emulator.rstrip("/")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=args.timeout + 10)) as session:
        try:
            if args.text or args.media:
                return await converse(session, args, " ".join(args.text))
            return await repl(session, args)
        except aiohttp.ClientError as exc:
            print(f"error: emulator unreachable at {args.emulator}: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: cannot read {args.media}: {exc.strerror}", file=sys.stderr)
            return 2


async def repl(session: aiohttp.ClientSession, args: argparse.Namespace) -> int:
    print(f"{args.name} ({args.wa_id}) → {args.phone_number_id}. Empty line or Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            line = await asyncio.to_thread(input, "> ")
        except EOFError:
            return 0
        if not line.strip():
            return 0
        await converse(session, args, line.strip())


def main() -> None:
    try:
        sys.exit(asyncio.run(run()))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

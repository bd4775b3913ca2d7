"""``make demo``: migrate, seed the demo client, start everything on the sandbox, show how to play the customer.

Every setting can be overridden from the environment (see .env.example); the defaults below point the real
clients at the local emulator and stub, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from launcher.stack import Stack, StackFailed
from shared.secretbox import new_key_setting

DEMO_PHONE_NUMBER_ID = "100000000000001"
DEMO_DISPLAY_NUMBER = "576015550100"
DEMO_API_KEY = "wmx_demo_not_a_secret"  # the demo's own client key, printed for curl
DEMO_OPERATOR_KEY = "wmx_operator_demo_not_a_secret"  # the demo operator's key (make onboard, the REST API)
DEFAULTS = {
    "WAMUX_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/wamux",
    "WAMUX_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "WAMUX_APP_SECRET": "demo-app-secret",
    "WAMUX_VERIFY_TOKEN": "demo-verify-token",
    "WAMUX_GRAPH_TOKEN": "demo-graph-token",
    "WAMUX_OPERATOR_API_KEY": DEMO_OPERATOR_KEY,
    "WAMUX_SIGNUP_LINK_SECRET": "demo-signup-link-secret",
    # The emulator's Meta app and Embedded Signup configuration (sandbox/config.py), and the demo's own WABA,
    # where the manual (SMS code) path adds numbers.
    "WAMUX_APP_ID": "1000000000000001",
    "WAMUX_SIGNUP_CONFIG_ID": "2000000000000002",
    "WAMUX_MANUAL_WABA_ID": "200000000000001",
    "WAMUX_GATEWAY_PORT": "8080",
    "WAMUX_SANDBOX_GRAPH_PORT": "8081",
    "WAMUX_SANDBOX_LLM_PORT": "8082",
    "OPENAI_API_KEY": "sandbox",
    "WAMUX_OPENAI_MODEL": "sandbox-stub",
}


DEMO_KEYS_FILE = Path(".demo/credential-keys")


def demo_credential_keys(path: Path = DEMO_KEYS_FILE) -> str:
    """The demo's WAMUX_CREDENTIAL_KEYS (the directory seals business tokens, the sender opens them): made once and
    kept beside the demo's logs, since the demo's database outlives a run and its tokens must still open."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = new_key_setting("demo1")
    path.touch(mode=0o600)
    path.write_text(keys + "\n", encoding="utf-8")
    return keys


def demo_env() -> dict[str, str]:
    env = {key: os.environ.get(key, value) for key, value in DEFAULTS.items()}
    env["WAMUX_CREDENTIAL_KEYS"] = os.environ.get("WAMUX_CREDENTIAL_KEYS") or demo_credential_keys()
    env.setdefault(
        "WAMUX_GRAPH_BASE_URL",
        os.environ.get("WAMUX_GRAPH_BASE_URL", f"http://127.0.0.1:{env['WAMUX_SANDBOX_GRAPH_PORT']}"),
    )
    env.setdefault(
        "WAMUX_OPENAI_BASE_URL",
        os.environ.get("WAMUX_OPENAI_BASE_URL", f"http://127.0.0.1:{env['WAMUX_SANDBOX_LLM_PORT']}/v1"),
    )
    env["WAMUX_SANDBOX_WEBHOOK_URL"] = f"http://127.0.0.1:{env['WAMUX_GATEWAY_PORT']}/webhook/whatsapp"
    env.setdefault(
        "WAMUX_PUBLIC_BASE_URL",
        os.environ.get("WAMUX_PUBLIC_BASE_URL", f"http://127.0.0.1:{env['WAMUX_GATEWAY_PORT']}"),
    )
    # Meta's hosted Embedded Signup and its JS SDK (the signup page's popup) are the emulator's stand-ins.
    env.setdefault("WAMUX_SIGNUP_BASE_URL", os.environ.get("WAMUX_SIGNUP_BASE_URL", env["WAMUX_GRAPH_BASE_URL"]))
    env.setdefault(
        "WAMUX_SIGNUP_SDK_URL", os.environ.get("WAMUX_SIGNUP_SDK_URL", f"{env['WAMUX_GRAPH_BASE_URL']}/sdk.js")
    )
    return env


async def ensure_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await server.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()


def run(env: dict[str, str], *args: str) -> None:
    # Our own modules, run with this interpreter: no untrusted input reaches the command line.
    subprocess.run([sys.executable, *args], env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


async def register_demo_number(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{env['WAMUX_SANDBOX_GRAPH_PORT']}/_sandbox/numbers"
    number = {
        "phone_number_id": DEMO_PHONE_NUMBER_ID,
        "display_phone_number": DEMO_DISPLAY_NUMBER,
        "waba_id": "200000000000001",
    }
    async with aiohttp.ClientSession() as session, session.post(url, json=number) as response:
        response.raise_for_status()


def instructions(env: dict[str, str], stack: Stack) -> str:
    graph = f"http://127.0.0.1:{env['WAMUX_SANDBOX_GRAPH_PORT']}"
    return f"""
wamux is running on the sandbox
  gateway (Meta webhooks, API)  {stack.gateway_url}     webhook: {stack.gateway_url}/webhook/whatsapp
  WhatsApp Cloud API emulator   {graph}     outbox: {graph}/_sandbox/outbox
  OpenAI-compatible stub        {env["WAMUX_OPENAI_BASE_URL"]}
  logs                          {stack.log_dir}/

Play the customer (another terminal):
  make customer MSG="Hola, ¿tienen apartamentos en Chapinero?"
  .venv/bin/python -m sandbox.customer --phone-number-id {DEMO_PHONE_NUMBER_ID}      # interactive

The client's dashboard: {stack.gateway_url}/dashboard?client=00000000-0000-4000-8000-00000000b0a7
  (API key: {DEMO_API_KEY})

See the counter move:
  curl -s -H "Authorization: Bearer {DEMO_API_KEY}" \\
       {stack.gateway_url}/api/clients/00000000-0000-4000-8000-00000000b0a7/stats

Onboard a second client (another terminal): its number, a signup link and QR code to open, then follow it live:
  make onboard NAME="Café Bruma" PHONE="+57 300 555 0142"
  operator key (REST API): {env["WAMUX_OPERATOR_API_KEY"]}   API: {stack.gateway_url}/api/openapi.json
Open the printed link (or scan the QR code), accept on the emulator's signup page; once it says active:
  make customer PHONE_NUMBER_ID=<the new one> MSG="Hola, ¿tienen mesa para dos?"
The CRM's commands (client.create, number.register, …) go to the directory over the broker: README.md,
"Onboarding a client's number", has one to paste.

Ctrl-C stops everything.
"""


def main() -> int:
    env = demo_env()
    asyncio.run(ensure_database(env["WAMUX_DATABASE_URL"]))
    run(env, "-m", "shared.migrate")
    run(env, "-m", "directory.admin", "seed-demo", "--api-key", DEMO_API_KEY)
    stack = Stack(env, Path(".demo/logs").resolve(), echo=os.environ.get("WAMUX_DEMO_ECHO", "") == "1")
    return asyncio.run(serve(env, stack))


async def serve(env: dict[str, str], stack: Stack) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stack.start()
        await register_demo_number(env)
        print(instructions(env, stack), flush=True)
        exited = asyncio.create_task(stack.supervise())
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if exited in done:
            print(f"{exited.result()} stopped unexpectedly: see {stack.log(exited.result())}", file=sys.stderr)
            return 1
        return 0
    except StackFailed as exc:
        print(f"demo could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…", flush=True)
        with contextlib.suppress(ProcessLookupError):
            await stack.stop()


if __name__ == "__main__":
    sys.exit(main())

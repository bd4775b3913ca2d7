"""The whole platform as processes (the five services and the sandbox) on free ports, a fresh broker prefix
and the session's database. Tests drive it from outside: signed webhooks in, the emulator's outbox and the
database out."""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from launcher.stack import Stack
from shared import secretbox

OPERATOR_KEY = "wmx_operator_e2e"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"  # git-ignored; CI keeps the folder


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's folder for screenshots, emptied first: ``artifacts/e2e/<module>/<test>/`` at the checkout's root,
    where a CI run leaves them for a person to look at (never committed)."""
    folder = ARTIFACTS / request.path.stem / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
async def stack(database_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    gateway, graph, llm = free_port(), free_port(), free_port()
    env = {
        "WAMUX_DATABASE_URL": database_url,
        "WAMUX_AMQP_URL": amqp_url,
        "WAMUX_BROKER_PREFIX": f"e2e{uuid.uuid4().hex[:8]}",
        "WAMUX_APP_SECRET": "e2e-app-secret",
        "WAMUX_VERIFY_TOKEN": "e2e-verify-token",
        "WAMUX_GRAPH_TOKEN": "e2e-graph-token",
        "WAMUX_GATEWAY_PORT": str(gateway),
        "WAMUX_GRAPH_BASE_URL": f"http://127.0.0.1:{graph}",
        "WAMUX_OPENAI_BASE_URL": f"http://127.0.0.1:{llm}/v1",
        "WAMUX_OPENAI_MODEL": "sandbox-stub",
        "OPENAI_API_KEY": "e2e",
        "WAMUX_SANDBOX_GRAPH_PORT": str(graph),
        "WAMUX_SANDBOX_LLM_PORT": str(llm),
        "WAMUX_SANDBOX_WEBHOOK_URL": f"http://127.0.0.1:{gateway}/webhook/whatsapp",
        "WAMUX_SANDBOX_STATUS_DELAY_S": "0.01",
        "WAMUX_LOG_LEVEL": "INFO",
        # Onboarding: the operator's REST key, signup links to the emulator's hosted signup, the emulator's app.
        "WAMUX_OPERATOR_API_KEY": OPERATOR_KEY,
        "WAMUX_SIGNUP_LINK_SECRET": "e2e-signup-link-secret",
        "WAMUX_PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway}",
        "WAMUX_SIGNUP_BASE_URL": f"http://127.0.0.1:{graph}",
        "WAMUX_SIGNUP_SDK_URL": f"http://127.0.0.1:{graph}/sdk.js",
        "WAMUX_APP_ID": "1000000000000001",
        "WAMUX_SIGNUP_CONFIG_ID": "2000000000000002",
        "WAMUX_MANUAL_WABA_ID": "200000000000009",
        "WAMUX_CREDENTIAL_KEYS": secretbox.new_key_setting("e2e1"),
    }
    log_dir: Path = tmp_path_factory.mktemp("stack-logs")
    running = Stack(env, log_dir)
    try:
        await running.start(wait_s=60)
        yield running
    finally:
        await running.stop()
        import aio_pika

        from shared.messaging import topology

        connection = await aio_pika.connect(amqp_url)
        async with connection, connection.channel() as channel:
            await topology.delete(channel, topology.Topology(env["WAMUX_BROKER_PREFIX"]))

"""``python -m sandbox`` as a process: it starts both servers, reports their URLs and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys

import aiohttp


async def test_runs_both_servers_and_stops_cleanly_on_sigterm() -> None:
    env = {
        **os.environ,
        "WAMUX_SANDBOX_GRAPH_PORT": "0",
        "WAMUX_SANDBOX_LLM_PORT": "0",
        "WAMUX_SANDBOX_WEBHOOK_URL": "",
        "WAMUX_GRAPH_TOKEN": "process-token",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        started = json.loads(await asyncio.wait_for(process.stdout.readline(), 15))
        assert started["event"] == "sandbox_started"
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer process-token"}) as http:
            async with http.get(f"{started['llm_base_url']}/models") as response:
                assert response.status == 200
            body = {"messaging_product": "whatsapp", "to": "573001112233", "text": {"body": "hola"}}
            async with http.post(f"{started['graph_url']}/v23.0/1/messages", json=body) as response:
                assert response.status == 200

        process.send_signal(signal.SIGTERM)
        stdout, _ = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 0
        assert json.loads(stdout.decode().strip().splitlines()[-1]) == {"event": "sandbox_stopped"}
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

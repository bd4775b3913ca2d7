"""The ai-worker's model call, CPU per call in this process: wamux's writer against the SDK's typed method.

Both go through the same ``openai.AsyncOpenAI`` (shared.prompting.openai_client: openai's aiohttp transport) to the
sandbox's LLM stub, a process of its own, with the same prompt: the client's personality and a conversation of 1
and of 20 turns. ``wamux`` is ``OpenAIReplyWriter.write`` as the ai-worker calls it (``client.post`` with the body
it builds); ``sdk create`` is ``client.chat.completions.create`` with the same arguments, which first walks every
message through the SDK's TypedDict transform. Interleaved rounds, CPU time of this process only (the stub's is its
own), medians.

    .venv/bin/python bench/llm_client.py [--rounds 3] [--calls 500]

Writes artifacts/bench/llm_client.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from support.processes import free_port, running
from support.results import Row, median, now_iso, write_results

from shared.prompting import OpenAIReplyWriter, Persona, Turn, build_prompt, openai_client
from shared.settings import LLMSettings

PERSONA = Persona(
    business_name="Inmobiliaria Andes",
    personality="Inmobiliaria en Bogotá, profesional y cercana; visitas de lunes a viernes.",
    customer_name="Ana",
    version=1,
)
MODEL = "stub-model"


def history(turns: int) -> list[Turn]:
    return [
        Turn("customer", f"¿El apartamento {i} sigue disponible?") if i % 2 == 0 else Turn("business", f"Sí, {i}.")
        for i in range(turns)
    ]


async def cpu_ms_per_call(call: Callable[[], Awaitable[object]], calls: int) -> float:
    for _ in range(20):  # warm: connections open, code paths taken
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - started) / calls * 1000


async def measure(llm_base_url: str, rounds: int, calls: int) -> list[Row]:
    settings = LLMSettings(openai_base_url=llm_base_url, openai_api_key="bench", openai_model=MODEL)
    rows: list[Row] = []
    async with openai_client(settings) as client:
        writer = OpenAIReplyWriter(client, MODEL)
        for turns in (1, 20):
            conversation = history(turns)

            async def wamux(conversation: list[Turn] = conversation) -> object:
                return await writer.write(PERSONA, conversation)

            async def sdk_create(conversation: list[Turn] = conversation) -> object:
                messages = build_prompt(PERSONA, conversation)
                return await client.chat.completions.create(
                    model=MODEL, messages=messages, temperature=0.4, max_tokens=400
                )

            measured: dict[str, list[float]] = {"wamux": [], "sdk create": []}
            for _ in range(rounds):
                measured["wamux"].append(await cpu_ms_per_call(wamux, calls))
                measured["sdk create"].append(await cpu_ms_per_call(sdk_create, calls))
            for way, values in measured.items():
                figure = median(values)
                print(f"  {turns:>2} turns  {way:<11} {figure:6.2f} ms CPU per call  (rounds: {values})", flush=True)
                note = f"median of {rounds} rounds of {calls} calls, this process's CPU, stub in its own process"
                rows.append(Row(f"model call, {turns}-turn conversation, {way}", round(figure, 3), "ms", note))
    return rows


async def main(args: argparse.Namespace) -> None:
    started_at = now_iso()
    llm, graph = free_port(), free_port()
    env = {**os.environ, "WAMUX_SANDBOX_LLM_PORT": str(llm), "WAMUX_SANDBOX_GRAPH_PORT": str(graph)}
    env["WAMUX_SANDBOX_WEBHOOK_URL"] = ""  # nothing to send webhooks to
    log_dir = Path(tempfile.mkdtemp(prefix="wamux-bench-llm-"))
    print(f"model call CPU on {os.cpu_count()} cores, stub log in {log_dir}", flush=True)
    ready = f"http://127.0.0.1:{llm}/_stub/requests"
    async with running("sandbox", [sys.executable, "-m", "sandbox"], env, log_dir, ready):
        rows = await measure(f"http://127.0.0.1:{llm}/v1", args.rounds, args.calls)
    print(f"wrote {write_results('llm_client', started_at, rows)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=500)
    asyncio.run(main(parser.parse_args()))

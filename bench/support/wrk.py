"""wrk runs of the one signed webhook (bench/load/signed_post.lua, bench/load/payload.py), and their figures.

wrk counts every answer that is not 2xx or 3xx ("Non-2xx or 3xx responses") and every socket error; a run with
either is reported as such, never counted as throughput silently.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
SIGNED_POST = BENCH / "load" / "signed_post.lua"
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class WrkFailed(Exception):
    pass


@dataclass(frozen=True)
class WrkRun:
    requests: int  # answers received (any status)
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout

    @property
    def answered_200(self) -> int:
        """Answers that were 2xx (the servers under test answer nothing else in that range)."""
        return self.requests - self.non_2xx

    @property
    def clean(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS_MS[unit]


def parse(output: str) -> WrkRun:
    try:
        total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m),", output)
        assert total is not None
        seconds = _ms(total.group(2) + total.group(3)) / 1000
        rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
        p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
        p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
        assert rps and p50 and p99
    except AssertionError as exc:
        raise WrkFailed(f"wrk's output is not what it prints after a run:\n{output}") from exc
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkRun(
        requests=int(total.group(1)),
        seconds=seconds,
        requests_per_s=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


async def run_wrk(
    url: str, body: Path, signature: str, *, connections: int, duration_s: float, threads: int = 1
) -> WrkRun:
    """``wrk -t{threads} -c{connections} -d{duration}s --latency`` POSTing ``body`` signed with ``signature``."""
    env = {**os.environ, "WAMUX_BENCH_BODY": str(body), "WAMUX_BENCH_SIGNATURE": signature}
    process = await asyncio.create_subprocess_exec(
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--latency",
        "-s",
        str(SIGNED_POST),
        url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise WrkFailed(f"wrk exited with {process.returncode}:\n{text}")
    return parse(text)

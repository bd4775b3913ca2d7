"""Resident memory of a process, read from /proc/<pid>/status (VmRSS) as the kernel counts it (no psutil)."""

from __future__ import annotations

from pathlib import Path

KIB_PER_MIB = 1024


def rss_mib(pid: int) -> float:
    """The process's resident set in MiB; ProcessLookupError when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError as exc:
        raise ProcessLookupError(f"no process {pid}") from exc
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / KIB_PER_MIB  # "VmRSS:   123456 kB"
    raise ProcessLookupError(f"process {pid} has no VmRSS (a zombie or a kernel thread)")


def growth_percent(start_mib: float, end_mib: float) -> float:
    return (end_mib - start_mib) / start_mib * 100 if start_mib else 0.0

"""CPU seconds of a process, from /proc/<pid>/stat (user + system time), so a step shows its slowest stage."""

from __future__ import annotations

import os
import resource

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of ``pid`` so far; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: the fields after its last ")" are fixed.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def own_cpu_seconds() -> float:
    """This process (the load generator)'s CPU so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# The servers the platform runs on, by their processes' command names: their CPU is part of a message's cost too.
SERVERS = {"postgres": "postgresql", "beam.smp": "rabbitmq"}


def servers_cpu_seconds() -> dict[str, float]:
    """CPU so far of every PostgreSQL and RabbitMQ process on the machine, summed per server. A process's count
    includes its children that have exited (``cutime`` and ``cstime``): a backend whose connection closed during a
    step (a pool letting an idle connection go) still counts, through the postmaster that reaped it; without them
    the server's figure fell by what every closed backend had spent, below zero at times."""
    totals = dict.fromkeys(SERVERS.values(), 0.0)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        server = SERVERS.get(text[text.index("(") + 1 : text.rindex(")")])
        if server is not None:
            fields = text[text.rindex(")") + 2 :].split()
            totals[server] += sum(int(f) for f in fields[11:15]) / _TICKS  # utime stime cutime cstime
    return totals


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    taken = {name: cpu_seconds(pid) for name, pid in pids.items()}
    taken_ok = {name: value for name, value in taken.items() if value is not None}
    taken_ok["load generator"] = own_cpu_seconds()
    taken_ok.update(servers_cpu_seconds())
    return taken_ok


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before if name in after}

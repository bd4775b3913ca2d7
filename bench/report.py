"""Every benchmark's figures in one table: reads artifacts/bench/*.json (bench/support/results.py's shape).

    .venv/bin/python bench/report.py [--dir artifacts/bench]

One line per figure (bench, figure, value, unit, note), the core count of the machine each file was measured on,
and when; a file in another shape is named as such instead of being skipped silently.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from support.results import ARTIFACTS

COLUMNS = ("bench", "figure", "value", "unit", "note")


def formatted(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{int(value):,}"


def table(documents: list[tuple[Path, dict[str, object]]]) -> tuple[list[list[str]], list[str]]:
    lines: list[list[str]] = []
    problems: list[str] = []
    for path, document in documents:
        rows = document.get("rows")
        if not isinstance(rows, list) or "bench" not in document:
            problems.append(f"{path}: not a benchmark result (no bench or rows)")
            continue
        for row in rows:
            try:
                lines.append(
                    [str(document["bench"]), str(row["figure"]), formatted(row["value"]), row["unit"], row["note"]]
                )
            except (KeyError, TypeError):
                problems.append(f"{path}: a row without figure, value, unit or note: {row!r}")
    return lines, problems


def render(lines: list[list[str]]) -> str:
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(COLUMNS)]
    right = {2}  # values aligned on the right

    def one(cells: list[str]) -> str:
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip()

    return "\n".join([one(list(COLUMNS)), one(["-" * w for w in widths]), *(one(line) for line in lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=ARTIFACTS, help=f"where the results are (default {ARTIFACTS})")
    args = parser.parse_args(argv)
    paths = sorted(args.dir.glob("*.json"))
    if not paths:
        print(f"no benchmark results in {args.dir}: run `make bench` (or one of bench/*.py) first", file=sys.stderr)
        return 1
    documents = [(p, json.loads(p.read_text(encoding="utf-8"))) for p in paths]
    lines, problems = table(documents)
    print(render(lines))
    print()
    for path, document in documents:
        bench, started_at, cores = document.get("bench", path.stem), document.get("started_at"), document.get("cores")
        print(f"{bench}: measured {started_at} on {cores} cores")
    print(f"this machine: {os.cpu_count()} cores")
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Percentiles of one run and the medians of several, in bench/support/results.py's rows."""

from __future__ import annotations

import math
import statistics

from support.results import Row


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: a value that was observed (statistics.quantiles extrapolates past the maximum)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def medians(runs: list[list[Row]]) -> list[Row]:
    """Each figure's median over the runs, in the order figures first appear; the note says how many runs."""
    if len(runs) == 1:
        return runs[0]
    order: dict[str, list[Row]] = {}
    for rows in runs:
        for row in rows:
            order.setdefault(row.figure, []).append(row)
    out = []
    for figure, rows in order.items():
        values = [r.value for r in rows if not math.isnan(r.value)]
        value = statistics.median(values) if values else math.nan
        out.append(Row(figure, round(value, 2), rows[0].unit, f"median of {len(rows)} runs; {rows[0].note}"))
    return out

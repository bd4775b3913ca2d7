"""The results file of every benchmark: ``artifacts/bench/<name>.json`` (/tmp/briefs/bench_format.md's shape).

{"bench": name, "cores": os.cpu_count(), "started_at": iso, "rows": [{"figure", "value", "unit", "note"}]}
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
ARTIFACTS = REPOSITORY / "artifacts" / "bench"


@dataclass(frozen=True)
class Row:
    figure: str
    value: float
    unit: str  # req/s, msg/s, ms, MiB, x
    note: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def write_results(bench: str, started_at: str, rows: list[Row], directory: Path = ARTIFACTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{bench}.json"
    document = {"bench": bench, "cores": os.cpu_count(), "started_at": started_at, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_results(directory: Path = ARTIFACTS) -> list[dict[str, object]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.json"))]

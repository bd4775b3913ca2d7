"""``docs/architecture.md`` stays true to the tree: every path it names exists, every service and every schema
that exists is on it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def named_paths() -> set[str]:
    """Backticked names that look like repository paths (``shared/messaging/``, ``launcher/environment.py``)."""
    # A name with a folder in it (a bare file name in the tree table is relative to its row's folder).
    candidates = re.findall(r"`([A-Za-z_][\w.-]*/[\w./-]*[\w.-]/?)`", DOC)
    return {c for c in candidates if "<" not in c and not c.startswith(("../", "wamux.", "http"))}


def test_every_path_the_page_names_exists() -> None:
    missing = sorted(p for p in named_paths() if not (ROOT / p).exists() and not _under_a_service(p))
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def _under_a_service(path: str) -> bool:
    """``router/webhook/`` style names, relative to a service folder."""
    return any((folder / path).exists() for folder in (ROOT / "services").glob("*/"))


def test_the_page_names_every_path_check_can_fail() -> None:
    assert "shared/contracts/" in named_paths()
    assert not (ROOT / "shared/no_such_module.py").exists()


def test_every_service_is_on_the_page() -> None:
    services = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "tests").is_dir())
    absent = [s for s in services if f"`{s}`" not in DOC]
    assert not absent, f"services missing from docs/architecture.md: {absent}"


def test_every_schema_is_on_the_page() -> None:
    sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "shared" / "migrations").glob("*.sql")))
    schemas = set(re.findall(r"CREATE SCHEMA (?:IF NOT EXISTS )?(\w+)", sql))
    absent = sorted(s for s in schemas if s not in DOC)
    assert not absent, f"schemas missing from docs/architecture.md: {absent}"

"""Services share only ``shared/`` and broker messages: no service imports another's code, and ``shared`` and
the sandbox (the outside world) import no service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "gateway": "gateway",
    "router": "router",
    "ai-worker": "ai_worker",
    "sender": "sender",
    "billing": "billing",
}
PACKAGES = set(SERVICES.values())


def imported_top_level(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.py") if "tests" not in p.relative_to(folder).parts]


@pytest.mark.parametrize(("folder", "package"), SERVICES.items())
def test_a_service_imports_only_itself_and_shared(folder: str, package: str) -> None:
    for path in sources(ROOT / "services" / folder / package):
        others = imported_top_level(path) & (PACKAGES - {package})
        assert not others, f"{path.relative_to(ROOT)} imports {sorted(others)}: talk through shared/ and the broker"


@pytest.mark.parametrize("folder", ["shared", "sandbox"])
def test_shared_and_the_sandbox_import_no_service(folder: str) -> None:
    for path in sources(ROOT / folder):
        services = imported_top_level(path) & PACKAGES
        assert not services, f"{path.relative_to(ROOT)} imports {sorted(services)}"
    if folder == "sandbox":  # it stands for Meta and OpenAI: it knows nothing of wamux
        for path in sources(ROOT / folder):
            assert "shared" not in imported_top_level(path), f"{path.relative_to(ROOT)} imports shared"

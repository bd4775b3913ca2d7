"""The image installs wamux with ``pip install .`` (deploy/Dockerfile): every package of the tree must be in
pyproject.toml's package list, or the image lacks it while the editable install of the tests finds it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_in_the_tree_is_installed_by_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found: set[str] = set()
    for top, folder in setuptools["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            if "tests" in relative.parts:
                continue
            found.add(".".join((top, *relative.parts)))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found <= {"shared.migrations", "gateway.static"}  # data folders, no __init__.py

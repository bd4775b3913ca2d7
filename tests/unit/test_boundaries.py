"""Services share only ``shared/``, broker messages and owners' read views: no service imports another's code;
``shared`` and the sandbox (the outside world) import no service; a service's SQL names only its own schema and the
``*_read`` views of others (the gateway also its ``dashboard``); a read view reads only its owner's tables; a test
writes only its own service's schema and seeds the others through their owners' code (``tests/support``).

Over 150 lines on purpose: every boundary of the platform is checked in this one module, with the SQL reading
its checks share."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "gateway": "gateway",
    "router": "router",
    "ai-worker": "ai_worker",
    "sender": "sender",
    "billing": "billing",
    "directory": "directory",
}
PACKAGES = set(SERVICES.values())
# The schema each package writes (the gateway owns none: it reads). ``X_read`` holds the views X publishes.
OWNS = {"gateway": set(), "router": {"router"}, "ai_worker": {"ai_worker"}, "sender": {"sender"}}
OWNS |= {"billing": {"billing"}, "directory": {"directory"}}
OWNERS = ("directory", "router", "billing", "sender", "ai_worker")
SCHEMA_NAME = re.compile(rf"\b((?:{'|'.join(OWNERS)})(?:_read)?|dashboard)\.(\w+)")
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|JOIN)\b")
_TABLE = r"\w+\.\w+"
WRITE = re.compile(
    rf"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?({_TABLE}(?:\s*,\s*{_TABLE})*)",
    re.I,
)


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


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))]
    return {id(n.body[0].value) for n in nodes if ast.get_docstring(n, clean=False) is not None}  # type: ignore[attr-defined]


def sql_texts(path: Path) -> list[str]:
    """The file's string constants (an f-string's literal parts as one), docstrings left out: prose names tables
    it does not query."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    texts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string's literal parts read as one statement
            parts = [v for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            skip.update(id(v) for v in parts)
            texts.append(" ".join(v.value for v in parts))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            texts.append(node.value)
    return texts


def sql_names(path: Path) -> set[str]:
    """Every ``schema.name`` of a known schema in the file's SQL: its string constants that read as SQL."""
    return {f"{s}.{name}" for text in sql_texts(path) if SQL.search(text) for s, name in SCHEMA_NAME.findall(text)}


def sql_writes(path: Path) -> set[str]:
    """Every ``schema.table`` the file's SQL inserts into, updates, deletes from or truncates."""
    return {name.strip() for text in sql_texts(path) for names in WRITE.findall(text) for name in names.split(",")}


def may_read(package: str, schema: str) -> bool:
    return schema in OWNS[package] or schema.endswith("_read") or (package == "gateway" and schema == "dashboard")


@pytest.mark.parametrize(("folder", "package"), SERVICES.items())
def test_a_service_s_sql_touches_only_its_own_schema_and_the_owners_read_views(folder: str, package: str) -> None:
    crossing = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources(ROOT / "services" / folder / package)
        for name in sql_names(path)
        if not may_read(package, name.split(".")[0])
    }
    assert not crossing, f"{package} reads another owner's tables (read its *_read views): {sorted(crossing)}"


def test_the_sql_check_sees_sql_in_f_strings_and_not_in_prose(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text(
        '''"""Reads ``router.messages`` (prose)."""\n'''
        """Q = f"SELECT 1 FROM router.parked p JOIN {X} directory.numbers n"\nimport router.messages\n"""
    )
    assert sql_names(module) == {"router.parked", "directory.numbers"}


def schemas_each_test_may_write() -> list[tuple[Path, set[str]]]:
    """Every test module with the schemas it may write: a service's tests its own service's; the platform's tests,
    their support (which seeds through the owners' code), shared's tests and the benchmark none."""
    owned = [
        (p, OWNS[pkg]) for folder, pkg in SERVICES.items() for p in (ROOT / "services" / folder / "tests").rglob("*.py")
    ]
    return owned + [(p, set()) for folder in ("tests", "shared/tests", "bench") for p in (ROOT / folder).rglob("*.py")]


def test_a_test_writes_only_its_own_service_s_schema_and_seeds_the_others_through_their_owners_code() -> None:
    crossing = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path, own in schemas_each_test_may_write()
        for name in sql_writes(path)
        if name.split(".")[0] not in own
    )
    assert not crossing, f"tests write other owners' tables by hand (seed through tests/support): {crossing}"


_VIEW_READS = """SELECT view_schema, view_name, table_schema, table_name FROM information_schema.view_table_usage
                  WHERE view_schema = 'dashboard' OR view_schema LIKE '%\\_read' ORDER BY 1, 2, 3, 4"""


@pytest.mark.integration
async def test_a_read_view_reads_only_its_owner_s_tables_and_the_dashboard_only_read_views(
    database_url: str,
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(_VIEW_READS)
    finally:
        await conn.close()
    crossing = [
        f"{r['view_schema']}.{r['view_name']} reads {r['table_schema']}.{r['table_name']}"
        for r in rows
        if not r["table_schema"].endswith("_read")
        and r["table_schema"] != ("dashboard" if r["view_schema"] == "dashboard" else r["view_schema"][: -len("_read")])
    ]
    assert not crossing, crossing
    read_schemas = {r["view_schema"] for r in rows if r["view_schema"] != "dashboard"}
    assert read_schemas >= {"directory_read", "router_read", "billing_read"}
    assert {r["view_name"] for r in rows if r["view_schema"] == "dashboard"} >= {"number_usage", "messages"}

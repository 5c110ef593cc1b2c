"""The shape of the code that the plug-in contract relies on, checked on the source: functions a
reader can hold, kinds that import no pydantic, sections that import no kind, and the state
backend honouring `--backend-timeout`."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.support.workspace import ROOT

PRODUCT = ("mlreg", "planner", "providers", "state")
LONGEST = 80


def _modules(*folders: str):
    for folder in folders:
        for f in sorted((ROOT / folder).rglob("*.py")):
            yield f, ast.parse(f.read_text())


def test_no_function_in_the_product_is_longer_than_80_lines():
    long = [
        f"{f.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for f, tree in _modules(*PRODUCT)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > LONGEST
    ]
    assert not long, long


def _runtime_imports(tree: ast.Module) -> list[str]:
    """The modules a module imports when it runs (not those imported for annotations only)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


def test_kinds_import_no_config_types_and_no_pydantic():
    """The kinds name their config types for annotations only (the early read imports the catalog
    before pydantic); of config they import only its pydantic-free defaults."""
    found = [
        f"{f.name}: {m}"
        for f, tree in _modules("planner/kinds")
        for m in _runtime_imports(tree)
        if m.startswith("pydantic") or (m.startswith("mlreg.planner.config") and m != "mlreg.planner.config.defaults")
    ]
    assert not found, found
    code = "import sys, mlreg.planner.kinds.catalog; assert 'pydantic' not in sys.modules, 'pydantic imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_sections_import_nothing_from_the_kinds():
    found = [
        f"{f.name}: {m}"
        for f, tree in _modules("planner/config/sections")
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for m in ([node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])
        if m and m.startswith("mlreg.planner.kinds")
    ]
    assert not found, found


def test_the_state_database_honours_the_backend_timeout(monkeypatch):
    import sqlalchemy

    from mlreg.state.postgres import PostgresState

    seen = {}

    def create_engine(url, **kw):
        seen.update(kw["connect_args"])
        return object()

    monkeypatch.setenv("MLREG_BACKEND_TIMEOUT", "600")
    monkeypatch.setattr(sqlalchemy, "create_engine", create_engine)
    assert PostgresState("postgresql://localhost/db", backend_timeout=7).engine is not None
    assert "statement_timeout=7000" in seen["options"]  # the option given, not the environment's 600 s

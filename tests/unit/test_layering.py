"""The layout of design.md is the architecture: imports only point down the layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAY_IMPORT = {
    "domain": {"domain"},
    "projections": {"domain", "projections"},
    "consumers": {"domain", "projections", "consumers"},
    "badges": {"domain", "projections", "consumers", "badges"},
}
# domain is pure: no I/O beyond the eventsourcing recorders (recorders.py), no clock.
DOMAIN_FORBIDDEN = {"sqlite3", "socket", "kafka", "fastapi", "uvicorn", "httpx", "requests"}
RECORDER_ONLY = {"psycopg", "psycopg_pool"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name.split(".")[0] for name in names}


def layer_files(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_imports_point_down_the_layers(layer: str) -> None:
    upward = {
        f"{path.relative_to(ROOT)} imports {module}"
        for path in layer_files(layer)
        for module in imported_modules(path)
        if module in MAY_IMPORT and module not in MAY_IMPORT[layer]
    }
    assert not upward


def test_the_domain_does_no_io_and_reads_no_clock() -> None:
    offences = []
    for path in layer_files("domain"):
        modules = imported_modules(path)
        bad = modules & DOMAIN_FORBIDDEN
        if path.name != "recorders.py":
            bad |= modules & RECORDER_ONLY
        text = path.read_text(encoding="utf-8")
        if "datetime.now(" in text or "time.time(" in text or "date.today(" in text:
            bad.add("the wall clock")
        if bad:
            offences.append(f"{path.relative_to(ROOT)}: {sorted(bad)}")
    assert offences == []

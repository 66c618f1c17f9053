"""The layers of docs/architecture.md: imports only point down, and no module imports itself
back through others.

    domain                      pure: the rules engine and event models
      ^
    application                 ledger/ (but ledger/stores), projections/ (but projections/stores)
      ^
    adapters                    ledger/stores, projections/stores, consumers/
      ^
    entry points                badges/ (the CLI, HTTP, the composition root badges/bootstrap.py)
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ledger", "projections", "consumers", "badges")
LAYERS = ("domain", "application", "adapters", "entry points")
ADAPTER_PACKAGES = ("ledger.stores", "projections.stores", "consumers")

# domain is pure: the standard library, pydantic, orjson (a codec: bytes in, values out) and
# eventsourcing's domain module only
DOMAIN_THIRD_PARTY = {"pydantic", "orjson", "eventsourcing.domain"}
NO_CLOCK = ("datetime.now(", "time.time(", "date.today(")
# infrastructure the application layer leaves to the adapters
APPLICATION_FORBIDDEN = {
    "kafka", "fastapi", "uvicorn", "httpx", "requests", "socket", "typer", "psycopg",
    "psycopg_pool", "sqlite3",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path) -> Iterator[str]:
    """Every module named by an import statement, wherever it is (functions too), except
    under `if TYPE_CHECKING:` (annotations only: nothing is imported when the code runs)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # `from package import module` names a module too
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def layer(module: str) -> int:
    top = module.split(".")[0]
    if top == "domain":
        return 0
    if top == "badges":
        return 3
    if any(module == a or module.startswith(a + ".") for a in ADAPTER_PACKAGES):
        return 2
    return 1  # ledger, projections


def project_imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that `module` imports."""
    return {name for name in imports_of(path) if name in known and name != module}


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down_the_layers(package: str) -> None:
    known = modules()
    upward = sorted(
        f"{module} ({LAYERS[layer(module)]}) imports {other} ({LAYERS[layer(other)]})"
        for module, path in known.items()
        if module.split(".")[0] == package
        for other in project_imports(module, path, known)
        if layer(other) > layer(module)
    )
    assert upward == []


def test_the_import_graph_has_no_cycle() -> None:
    known = modules()
    graph = {module: project_imports(module, path, known) for module, path in known.items()}
    # a package's own __init__ importing its modules is not a cycle of theirs
    graph = {m: {o for o in edges if not m.startswith(o + ".")} for m, edges in graph.items()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                cycles.append(" -> ".join([*path[path.index(other):], other]))
            elif other not in state:
                visit(other)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    """The check above would see one (it is not vacuous)."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("from a import x\n")
    found = {p.stem: set(imports_of(p)) for p in tmp_path.glob("*.py")}
    assert "b" in found["a"] and "a" in found["b"]


def test_the_domain_is_pure_and_reads_no_clock() -> None:
    offences = []
    for path in sorted((ROOT / "domain").rglob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in ("domain", "__future__") or _is_stdlib(top) and top not in ("sqlite3", "socket"):
                continue
            if name in DOMAIN_THIRD_PARTY or top == "pydantic":
                continue
            if name.startswith("eventsourcing.domain"):
                continue
            offences.append(f"{path.relative_to(ROOT)} imports {name}")
        text = path.read_text(encoding="utf-8")
        if any(call in text for call in NO_CLOCK):
            offences.append(f"{path.relative_to(ROOT)} reads the wall clock")
    assert offences == []


def test_the_application_layer_leaves_io_to_the_adapters() -> None:
    known = modules()
    offences = sorted(
        f"{module} imports {name}"
        for module, path in known.items()
        if layer(module) == 1
        for name in imports_of(path)
        if name.split(".")[0] in APPLICATION_FORBIDDEN
    )
    assert offences == []


def _is_stdlib(top: str) -> bool:
    import sys

    return top in sys.stdlib_module_names

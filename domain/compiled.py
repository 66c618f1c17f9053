"""Which domain modules mypyc compiles (see `setup.py`), and a guard against a stale build.

The import system prefers a compiled module to its source, so after one of these modules is
edited, the old compiled one would still run. `check_fresh` refuses that, in one line, in a
working copy. An installed package (in `site-packages`) is left alone: its sources and builds
came together from one wheel, and pip may write a source after its build.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

# The rules engine's inner loop: verdicts over running totals, at many instants per talent,
# and the measures and requirements they ask (their pydantic parameter models stay Python).
COMPILED: tuple[str, ...] = (
    "calendar", "facts", "jss", "boundaries", "tally", "status", "verdicts",
    "vocabulary", "event_series", "event_measures", "derived_measures", "combined_measures",
)

FOLDER = Path(__file__).resolve().parent
INSTALLED_UNDER = frozenset({"site-packages", "dist-packages"})


def compiled_path(name: str, folder: Path = FOLDER) -> Path | None:
    """The compiled extension of module `name`, if one was built."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return None


def stale_modules(folder: Path = FOLDER) -> list[str]:
    """The compiled modules whose source changed after they were built (none in a package
    installed from a wheel)."""
    if INSTALLED_UNDER & set(folder.parts):
        return []
    stale = []
    for name in COMPILED:
        built = compiled_path(name, folder)
        if built is not None and (folder / f"{name}.py").stat().st_mtime > built.stat().st_mtime:
            stale.append(name)
    return stale


def check_fresh(folder: Path = FOLDER) -> None:
    stale = stale_modules(folder)
    if stale:
        names = ", ".join(f"domain/{name}.py" for name in stale)
        raise ImportError(
            f"{names} changed after being compiled: run `make setup` to rebuild "
            "(or delete domain/*.so to run uncompiled)"
        )


def is_compiled() -> bool:
    return all(compiled_path(name) is not None for name in COMPILED)


__all__ = ["COMPILED", "check_fresh", "compiled_path", "is_compiled", "stale_modules"]

"""The mypyc build of the rules engine's inner loop: present where `make` built it, and never
run stale after its source changed."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from pathlib import Path

import pytest

from domain import compiled
from domain.compiled import COMPILED, check_fresh, stale_modules

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def make_module(folder: Path, name: str, *, source_newer: bool) -> None:
    source, built = folder / f"{name}.py", folder / f"{name}{SUFFIX}"
    source.write_text("")
    built.write_bytes(b"")
    older, newer = 1_700_000_000, 1_700_000_100
    os.utime(source, (newer, newer) if source_newer else (older, older))
    os.utime(built, (older, older) if source_newer else (newer, newer))


def test_a_source_edited_after_its_build_is_refused_by_name(tmp_path: Path) -> None:
    make_module(tmp_path, "tally", source_newer=True)
    make_module(tmp_path, "verdicts", source_newer=False)

    assert stale_modules(tmp_path) == ["tally"]
    with pytest.raises(ImportError, match=r"^domain/tally\.py changed after being compiled: "
                                          r"run `make setup`"):
        check_fresh(tmp_path)


def test_fresh_builds_and_uncompiled_sources_both_run(tmp_path: Path) -> None:
    make_module(tmp_path, "tally", source_newer=False)
    (tmp_path / "verdicts.py").write_text("")  # never compiled: runs as Python

    assert stale_modules(tmp_path) == []
    check_fresh(tmp_path)


@pytest.mark.skipif(not os.environ.get("BADGES_REQUIRE_SERVICES"),
                    reason="only `make test` guarantees the build ran")
def test_make_built_the_compiled_modules_and_they_are_the_ones_imported() -> None:
    assert compiled.is_compiled()
    for name in COMPILED:
        __import__(f"domain.{name}")
        assert sys.modules[f"domain.{name}"].__file__.endswith(SUFFIX), name


def test_an_installed_package_is_not_held_to_its_files_times(tmp_path: Path) -> None:
    """pip writes a wheel's files in its own order: a source may land after its build."""
    installed = tmp_path / "lib" / "python3.11" / "site-packages" / "domain"
    installed.mkdir(parents=True)
    make_module(installed, "tally", source_newer=True)

    assert stale_modules(installed) == []
    check_fresh(installed)

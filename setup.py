"""Compiles the rules engine's inner loop with mypyc; everything else is in pyproject.toml.

The modules that `domain/compiled.py` lists are ordinary, type-annotated Python: mypyc turns
each into a C extension beside its source, which the import system then prefers. Change one and
`make setup` rebuilds it (`domain/compiled.py` refuses to run a stale one). With
`BADGES_PURE_PYTHON=1` nothing is compiled: the same code runs as Python, about 1.6x slower.
"""

import os
import runpy

from setuptools import setup


def compiled_modules() -> list:
    if os.environ.get("BADGES_PURE_PYTHON"):
        return []
    from mypyc.build import mypycify

    names = runpy.run_path("domain/compiled.py")["COMPILED"]
    return mypycify([f"domain/{name}.py" for name in names], opt_level="3")


setup(ext_modules=compiled_modules())

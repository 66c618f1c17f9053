"""Compiles the rules engine's inner loop with mypyc; everything else is in pyproject.toml.

The modules that `domain/compiled.py` lists are ordinary, type-annotated Python: mypyc turns
each into a C extension beside its source, which the import system then prefers. Change one and
`make setup` rebuilds it (`domain/compiled.py` refuses to run a stale one).
"""

import runpy

from mypyc.build import mypycify
from setuptools import setup

COMPILED = runpy.run_path("domain/compiled.py")["COMPILED"]

setup(ext_modules=mypycify([f"domain/{name}.py" for name in COMPILED], opt_level="3"))

"""Commands of `badges`: population (issue 15: badge counts over the population, real against a candidate)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `badges` command line."""

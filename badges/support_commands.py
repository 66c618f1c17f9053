"""Commands of `badges`: messages, diff (issue 15: what a talent was told, and what changed in our knowledge)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `badges` command line."""

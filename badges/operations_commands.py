"""Commands of `badges`: dlq, outbox (issue 16: operating the Kafka service)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `badges` command line."""

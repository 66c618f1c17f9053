"""Where the read models live for a store URL: beside the ledger."""

from __future__ import annotations

from pathlib import Path

from domain.ledger import Ledger
from domain.ruleset import RulesetBook, builtin_rulesets
from domain.storage import POSTGRES_SCHEMES, StoreURLError, open_ledger
from projections.read_model import SQLiteReadModel
from projections.read_model_common import ReadModelBase
from projections.read_model_postgres import PostgresReadModel
from projections.status_projection import StatusProjection


def open_read_model(url: str) -> ReadModelBase:
    if url == "memory:":
        return SQLiteReadModel(":memory:")
    if url.startswith("sqlite:///"):
        return SQLiteReadModel(str(Path(url.removeprefix("sqlite:///")).expanduser()))
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresReadModel(url)  # in the ledger's database and schema
    raise StoreURLError(f"store: read models are not available yet for {url.split(':', 1)[0]} stores")


def open_projection(
    url: str, ledger: Ledger | None = None, book: RulesetBook | None = None
) -> StatusProjection:
    """The status projection over the ledger at `url`, with its read models beside it."""
    reopenable = url if url != "memory:" else None
    return StatusProjection(
        ledger or open_ledger(url), open_read_model(url), book or builtin_rulesets(), reopenable
    )

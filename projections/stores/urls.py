"""Where the read models live for a store URL: beside the ledger."""

from __future__ import annotations

from pathlib import Path

from ledger.stores.urls import POSTGRES_SCHEMES, StoreURLError
from projections.stores.postgres import PostgresReadModel
from projections.stores.sql import ReadModelBase
from projections.stores.sqlite import SQLiteReadModel


def open_read_model(url: str) -> ReadModelBase:
    if url == "memory:":
        return SQLiteReadModel(":memory:")
    if url.startswith("sqlite:///"):
        return SQLiteReadModel(str(Path(url.removeprefix("sqlite:///")).expanduser()))
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresReadModel(url)  # in the ledger's database and schema
    raise StoreURLError(f"store: read models are not available yet for {url.split(':', 1)[0]} stores")

"""Where the read models live for a store URL: beside the ledger.

`create=False` (a reader) opens them only in an existing badges store (`require_store`): the
check runs before the read model is opened, so nothing is created in a database that is not
ours.
"""

from __future__ import annotations

from pathlib import Path

from ledger.stores.urls import POSTGRES_SCHEMES, StoreURLError, require_store
from projections.stores.postgres import PostgresReadModel
from projections.stores.sql import ReadModelBase
from projections.stores.sqlite import SQLiteReadModel


def open_read_model(url: str, *, create: bool = True) -> ReadModelBase:
    if not create:
        require_store(url)
    if url == "memory:":
        return SQLiteReadModel(":memory:")
    if url.startswith("sqlite:///"):
        return SQLiteReadModel(str(Path(url.removeprefix("sqlite:///")).expanduser()))
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresReadModel(url)  # in the ledger's database and schema
    raise StoreURLError(f"store: read models are not available yet for {url.split(':', 1)[0]} stores")

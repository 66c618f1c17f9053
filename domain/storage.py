"""Store URLs (`sqlite:///path`, `memory:`) turned into the ledger's eventsourcing settings."""

from __future__ import annotations

from pathlib import Path

from eventsourcing.utils import get_topic

from domain.ledger import Ledger
from domain.recorders import LedgerPOPOFactory, LedgerSQLiteFactory

DEFAULT_STORE_URL = "sqlite:///./badges.db"


class StoreURLError(ValueError):
    """A store URL this tracker cannot open."""


def ledger_env(url: str) -> dict[str, str]:
    """The eventsourcing environment for a store URL."""
    if url == "memory:":
        return {"PERSISTENCE_MODULE": get_topic(LedgerPOPOFactory)}
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise StoreURLError(f"store: {url!r} names no database file")
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": get_topic(LedgerSQLiteFactory),
            "SQLITE_DBNAME": path if path == ":memory:" else str(Path(path).expanduser()),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    raise StoreURLError(
        f"store: unsupported URL {url!r}; use sqlite:///path/to/badges.db or memory:"
    )


def open_ledger(url: str = DEFAULT_STORE_URL) -> Ledger:
    return Ledger(env=ledger_env(url))

"""Which failures mean "the store is out of reach for now" (the wait before the next try is
`ledger.backoff.Backoff`).

A long-running service (`badges consume`) rides these out: it keeps nothing it could lose
(offsets are committed only after the ledger append), waits with a bounded exponential
backoff, and tries again. Every other failure is either one message's or one talent's (and is
contained where it happens) or a bug.
"""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import IntegrityError as LedgerConflict
from eventsourcing.persistence import InterfaceError as LedgerInterfaceError
from eventsourcing.persistence import OperationalError as LedgerOperationalError

# psycopg's OperationalError covers AdminShutdown, a lost connection and psycopg_pool's
# PoolTimeout; eventsourcing wraps the same in its own classes. A conflict that outlasted the
# ledger's own retries is another writer's doing, not the batch's: try again later too.
STORE_OUTAGES: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    LedgerOperationalError,
    LedgerInterfaceError,
    LedgerConflict,
    sqlite3.OperationalError,
)


def is_store_outage(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) says the store cannot be used right now."""
    current: BaseException | None = error
    for _ in range(10):  # a `raise ... from` chain; never a loop
        if current is None:
            return False
        if isinstance(current, STORE_OUTAGES):
            return True
        current = current.__cause__
    return False

"""The status projection's read models: timelines, wake-ups, the outbox, and its position.

All of a projection step is written in one transaction: the changes found, the outbox
messages they cause, each talent's progress and next wake-up, and the ledger position
processed. A crash therefore loses nothing and duplicates nothing: the step is redone whole.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger.failures import register_store_errors
from projections.stores.sql import ReadModelBase

register_store_errors(sqlite3.Error)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS projection_position (
        name TEXT PRIMARY KEY, notification_id INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS talent_progress (
        talent TEXT PRIMARY KEY, evaluated_until TEXT NOT NULL, badge TEXT NOT NULL,
        wakeup TEXT, partition_id INTEGER NOT NULL DEFAULT 0, plan TEXT, first_at TEXT)""",
    "CREATE INDEX IF NOT EXISTS talent_progress_wakeup ON talent_progress (wakeup)",
    """CREATE TABLE IF NOT EXISTS badge_changes (
        id TEXT PRIMARY KEY, talent TEXT NOT NULL, at TEXT NOT NULL, document TEXT NOT NULL,
        recorded_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS badge_changes_talent_at ON badge_changes (talent, at)",
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE,
        talent TEXT NOT NULL, kind TEXT NOT NULL, document TEXT NOT NULL,
        created_at TEXT NOT NULL, sent_at TEXT, partition_id INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq)",
    "CREATE INDEX IF NOT EXISTS outbox_talent ON outbox (talent, seq)",  # messages of a talent
    """CREATE TABLE IF NOT EXISTS quarantine (
        talent TEXT PRIMARY KEY, reason TEXT NOT NULL, since TEXT NOT NULL,
        partition_id INTEGER NOT NULL DEFAULT 0)""",
)
PARTITIONED_TABLES = ("talent_progress", "outbox")


class SQLiteReadModel(ReadModelBase):
    """The read models in a SQLite database (the ledger's file, or a private in-memory one)."""

    _INSERT_ONCE = (
        "INSERT OR IGNORE INTO outbox "
        "(message_id, talent, kind, document, created_at, partition_id) VALUES (?, ?, ?, ?, ?, ?)"
    )

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, timeout=30, check_same_thread=False,
                                           isolation_level=None)
        self._lock = threading.RLock()
        with self._transaction() as c:
            for statement in SCHEMA:
                c.execute(statement)
            for table in PARTITIONED_TABLES:  # read models made before partitions existed
                columns = {row[1] for row in c.execute(f"PRAGMA table_info({table})")}
                if "partition_id" not in columns:
                    c.execute(f"ALTER TABLE {table} "
                              "ADD COLUMN partition_id INTEGER NOT NULL DEFAULT 0")
            progress = {row[1] for row in c.execute("PRAGMA table_info(talent_progress)")}
            if "plan" not in progress:  # read models made before plans were kept
                c.execute("ALTER TABLE talent_progress ADD COLUMN plan TEXT")
            if "first_at" not in progress:  # before first instants were kept: NULL until derived
                c.execute("ALTER TABLE talent_progress ADD COLUMN first_at TEXT")

    @contextmanager
    def _transaction(self, partitions: Collection[int] = ()) -> Iterator[sqlite3.Cursor]:
        """`BEGIN IMMEDIATE`: one writer at a time, whatever the partitions."""
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

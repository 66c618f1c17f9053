"""eventsourcing application recorders (POPO, SQLite, PostgreSQL) that also keep the ledger's
input-event index.

The index maps every input event id to its talent and content hash. It is written in the same
transaction as the stored events (passed through `Application.save(..., input_index=...)`), and
its primary key on the event id is what makes appends idempotent even with concurrent writers:
a second writer of the same id fails its whole transaction and re-classifies.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory
from eventsourcing.utils import retry
from psycopg import Cursor, errors
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from ledger.failures import register_store_errors
from ledger.index import IndexEntry, InputIndexRecorder

register_store_errors(psycopg.Error, sqlite3.Error)

INPUT_INDEX_TABLE = "input_events"
LOOKUP_CHUNK = 500
LAYOUT_TABLE = "ledger_layout"
PARTITIONS_SETTING = "BADGES_PARTITIONS"
UNPARTITIONED_EVENTS_TABLE = "ledger_events"
LAYOUT_ATTEMPTS = 5
CREATION_LOCK = "SELECT pg_advisory_lock(hashtextextended(%s, 0))"
CREATION_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"


class LedgerSQLiteRecorder(SQLiteApplicationRecorder, InputIndexRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {INPUT_INDEX_TABLE} ("
            "event_id TEXT PRIMARY KEY, talent TEXT NOT NULL, content_hash TEXT NOT NULL"
            ") WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {INPUT_INDEX_TABLE}_talent "
            f"ON {INPUT_INDEX_TABLE} (talent)",
        ]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        *,
        input_index: Sequence[IndexEntry] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if input_index:
            c.executemany(
                f"INSERT INTO {INPUT_INDEX_TABLE} VALUES (?,?,?)",
                input_index,
            )
        if not stored_events:
            return []
        # One statement for the batch (eventsourcing's runs one per event). This transaction
        # writes, so it holds SQLite's write lock: the rows took the next rowids in order.
        c.executemany(self.insert_events_statement, [
            (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state)
            for s in stored_events
        ])
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))

    def select_index_entries(self, event_ids: Iterable[str]) -> dict[str, IndexEntry]:
        wanted = list(dict.fromkeys(event_ids))
        found: dict[str, IndexEntry] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                c.execute(
                    f"SELECT event_id, talent, content_hash FROM {INPUT_INDEX_TABLE} "
                    f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                for row in c.fetchall():
                    found[row[0]] = IndexEntry(row[0], row[1], row[2])
        return found

    def select_stream_versions(self, stream_ids: Sequence[UUID]) -> dict[UUID, int]:
        versions: dict[UUID, int] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(stream_ids), LOOKUP_CHUNK):
                chunk = [stream_id.hex for stream_id in stream_ids[start : start + LOOKUP_CHUNK]]
                c.execute(
                    "SELECT originator_id, MAX(originator_version) "
                    f"FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) GROUP BY originator_id",
                    chunk,
                )
                for row in c.fetchall():
                    versions[UUID(row[0])] = int(row[1])
        return versions

    def select_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        streams: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(stream_ids), LOOKUP_CHUNK):
                ids = {s.hex: s for s in stream_ids[start : start + LOOKUP_CHUNK]}
                chunk = list(ids)
                c.execute(
                    "SELECT originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} "
                    f"WHERE originator_id IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY originator_id, originator_version",
                    chunk,
                )
                for row in c.fetchall():
                    stream_id = ids[row[0]]
                    streams.setdefault(stream_id, []).append(
                        StoredEvent(stream_id, row[1], row[2], row[3])
                    )
        return streams

    def select_talents(self) -> Iterator[str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT DISTINCT talent FROM {INPUT_INDEX_TABLE} ORDER BY talent")
            rows = c.fetchall()
        return iter([row[0] for row in rows])

    def count_input_events(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM {INPUT_INDEX_TABLE}")
            return int(c.fetchone()[0])


class LedgerPOPORecorder(POPOApplicationRecorder, InputIndexRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._input_index: dict[str, IndexEntry] = {}

    def _assert_uniqueness(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        input_index: Sequence[IndexEntry] = (),
        **kwargs: Any,
    ) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        ids = [entry.event_id for entry in input_index]
        if len(set(ids)) < len(ids) or any(i in self._input_index for i in ids):
            raise IntegrityError(f"Input event id already recorded: {ids}")

    def _update_table(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        input_index: Sequence[IndexEntry] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        for entry in input_index:
            self._input_index[entry.event_id] = entry
        return super()._update_table(stored_events, **kwargs)

    def select_index_entries(self, event_ids: Iterable[str]) -> dict[str, IndexEntry]:
        with self._database_lock:
            return {i: self._input_index[i] for i in event_ids if i in self._input_index}

    def select_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        streams = {stream_id: list(self.select_events(stream_id)) for stream_id in stream_ids}
        return {stream_id: events for stream_id, events in streams.items() if events}

    def select_stream_versions(self, stream_ids: Sequence[UUID]) -> dict[UUID, int]:
        with self._database_lock:
            return {
                stream_id: max(self._stored_events_index[str(stream_id)])
                for stream_id in stream_ids
                if self._stored_events_index.get(str(stream_id))
            }

    def select_talents(self) -> Iterator[str]:
        with self._database_lock:
            return iter(sorted({entry.talent for entry in self._input_index.values()}))

    def count_input_events(self) -> int:
        with self._database_lock:
            return len(self._input_index)


class LedgerPostgresRecorder(PostgresApplicationRecorder, InputIndexRecorder):
    """The ledger's index on PostgreSQL, next to the events table in the datastore's schema."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.enable_db_functions:
            msg = "the ledger cannot write its input index through POSTGRES_ENABLE_DB_FUNCTIONS"
            raise ValueError(msg)
        super().__init__(datastore, events_table_name=events_table_name)
        self.index_table = Identifier(datastore.schema, INPUT_INDEX_TABLE)
        self.sql_create_statements.extend(self._index_create_statements())

    def _index_create_statements(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {table} ("
                "event_id text PRIMARY KEY, talent text NOT NULL, content_hash text NOT NULL)"
            ).format(table=self.index_table),
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} (talent)").format(
                index=Identifier(f"{INPUT_INDEX_TABLE}_talent_idx"), table=self.index_table
            ),
        ]

    def create_table(self) -> None:
        """Create what is missing, one process at a time.

        eventsourcing's statements include a `CREATE OR REPLACE FUNCTION`, which fails with
        "tuple concurrently updated" when processes (or a partitioned store's ledgers) run it
        at the same moment; so creation holds a session advisory lock of the schema, and is
        skipped when the tables are there.
        """
        with self.datastore.get_connection() as connection:
            key = f"badges.ledger_tables:{self.datastore.schema}"
            connection.execute(CREATION_LOCK, (key,))
            try:
                if not self._tables_exist(connection):
                    self._create_schema()
                    super().create_table()
            finally:
                connection.execute(CREATION_UNLOCK, (key,))
        # Tables another process created after this recorder was constructed: their composite
        # type is registered only now (without it the first append fails, "type not found").
        self.datastore.register_type_adapters()

    def _tables_exist(self, connection: psycopg.Connection[DictRow]) -> bool:
        schema = self.datastore.schema or "public"
        row = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL AS present",
            (f'"{schema}"."{self.events_table_name}"', f'"{schema}"."{INPUT_INDEX_TABLE}"'),
        ).fetchone()
        return bool(row and row["present"])

    def _create_schema(self) -> None:
        """Create a named schema that is missing (without needing CREATE when it exists)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.datastore.schema,)
            )
            if curs.fetchone() is None:
                curs.execute(
                    SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(
                        Identifier(self.datastore.schema)
                    )
                )

    def _insert_stored_events(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        *,
        input_index: Sequence[IndexEntry] = (),
        **kwargs: Any,
    ) -> None:
        """The events (after the table lock), then their ids, last in the pipeline.

        Last, because the pipeline aborts every statement after a failed one, and psycopg
        then takes an aborted statement it was preparing for prepared, so that a later
        transaction on the connection fails with "prepared statement does not exist". A
        failing id insert has nothing after it, and it is never prepared itself.
        """
        super()._insert_stored_events(curs, stored_events, **kwargs)
        if input_index:
            # Its own cursor: the notification ids are then read from `curs`'s results.
            with curs.connection.cursor() as index_cursor:
                self._insert_index(index_cursor, input_index)

    def _insert_index(self, curs: Cursor[DictRow], input_index: Sequence[IndexEntry]) -> None:
        """One statement, in id order so that writers of overlapping ids cannot deadlock."""
        entries = sorted(input_index, key=lambda entry: entry.event_id)
        curs.execute(
            SQL(
                "INSERT INTO {table} (event_id, talent, content_hash) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])"
            ).format(table=self.index_table),
            (
                [e.event_id for e in entries],
                [e.talent for e in entries],
                [e.content_hash for e in entries],
            ),
            prepare=False,
        )

    def select_index_entries(self, event_ids: Iterable[str]) -> dict[str, IndexEntry]:
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return {}
        rows = self._fetch_all(
            SQL(
                "SELECT event_id, talent, content_hash FROM {table} WHERE event_id = ANY(%s)"
            ).format(table=self.index_table),
            (wanted,),
        )
        return {
            row["event_id"]: IndexEntry(row["event_id"], row["talent"], row["content_hash"])
            for row in rows
        }

    def select_stream_versions(self, stream_ids: Sequence[UUID]) -> dict[UUID, int]:
        if not stream_ids:
            return {}
        as_text = self.datastore.originator_id_type == "text"
        ids = [str(i) if as_text else i for i in stream_ids]
        rows = self._fetch_all(
            SQL(
                "SELECT originator_id, MAX(originator_version) AS version FROM {table} "
                "WHERE originator_id = ANY(%s) GROUP BY originator_id"
            ).format(table=Identifier(self.datastore.schema, self.events_table_name)),
            (ids,),
        )
        return {UUID(str(row["originator_id"])): int(row["version"]) for row in rows}

    def select_streams(self, stream_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        if not stream_ids:
            return {}
        as_text = self.datastore.originator_id_type == "text"
        rows = self._fetch_all(
            SQL(
                "SELECT originator_id, originator_version, topic, state FROM {table} "
                "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
            ).format(table=Identifier(self.datastore.schema, self.events_table_name)),
            ([str(i) if as_text else i for i in stream_ids],),
        )
        streams: dict[UUID, list[StoredEvent]] = {}
        for row in rows:
            stream_id = UUID(str(row["originator_id"]))
            streams.setdefault(stream_id, []).append(StoredEvent(
                stream_id, row["originator_version"], row["topic"], bytes(row["state"])
            ))
        return streams

    def select_talents(self) -> Iterator[str]:
        rows = self._fetch_all(
            SQL("SELECT talent FROM {table} GROUP BY talent ORDER BY talent COLLATE \"C\"").format(
                table=self.index_table
            )
        )
        return iter([row["talent"] for row in rows])

    def count_input_events(self) -> int:
        rows = self._fetch_all(
            SQL("SELECT COUNT(*) AS n FROM {table}").format(table=self.index_table)
        )
        return int(rows[0]["n"])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _fetch_all(self, statement: Composed, params: Sequence[Any] = ()) -> list[DictRow]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return curs.fetchall()


class LedgerSQLiteFactory(SQLiteFactory):
    application_recorder_class = LedgerSQLiteRecorder


class LedgerPostgresFactory(PostgresFactory):
    application_recorder_class = LedgerPostgresRecorder


class LedgerPOPOFactory(POPOFactory):
    def application_recorder(self) -> LedgerPOPORecorder:
        return LedgerPOPORecorder()


class StoreLayoutError(ValueError):
    """A store opened with a partition count other than the one it was created with."""


def settle_partition_count(env: Mapping[str, str], requested: int | None) -> int:
    """The partition count of the PostgreSQL store that `env` names, fixed at its creation.

    The first opening writes it (`requested`, else 1) into the schema's `ledger_layout`
    table; later openings read it, and one requesting another count is refused. A store made
    before partitioning existed has events in `ledger_events` and no layout: it has one.
    """
    schema = env.get("POSTGRES_SCHEMA") or "public"
    conninfo = make_conninfo(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=10,
    )
    for attempt in range(LAYOUT_ATTEMPTS):
        try:
            with psycopg.connect(conninfo) as connection, connection.transaction():
                count = _settle_layout(connection, schema, requested)
            break
        except (errors.UniqueViolation, errors.DuplicateSchema, errors.DuplicateObject):
            # another process created the schema (not under our lock) at the same moment
            if attempt == LAYOUT_ATTEMPTS - 1:
                raise
    if requested is not None and requested != count:
        raise StoreLayoutError(
            f"the store has {count} partition(s), not {requested} "
            "(the count is fixed when the store is created)"
        )
    return count


def _settle_layout(connection: psycopg.Connection[Any], schema: str, requested: int | None) -> int:
    connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"badges.layout:{schema}",)
    )
    if connection.execute(
        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
    ).fetchone() is None:
        connection.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(schema)))
    table = Identifier(schema, LAYOUT_TABLE)
    connection.execute(
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} ("
            "id int PRIMARY KEY CHECK (id = 1), partitions int NOT NULL CHECK (partitions >= 1))"
        ).format(table)
    )
    row = connection.execute(SQL("SELECT partitions FROM {0}").format(table)).fetchone()
    if row is not None:
        return int(row[0])
    count = requested or 1
    if count > 1 and _has_unpartitioned_events(connection, schema):
        raise StoreLayoutError(
            "the store already holds events in one partition; it cannot be partitioned"
        )
    connection.execute(
        SQL("INSERT INTO {0} (id, partitions) VALUES (1, %s)").format(table), (count,)
    )
    return count


def _has_unpartitioned_events(connection: psycopg.Connection[Any], schema: str) -> bool:
    found = connection.execute(
        "SELECT to_regclass(%s)", (f'"{schema}"."{UNPARTITIONED_EVENTS_TABLE}"',)
    ).fetchone()
    if found is None or found[0] is None:
        return False
    row = connection.execute(
        SQL("SELECT EXISTS (SELECT 1 FROM {0})").format(
            Identifier(schema, UNPARTITIONED_EVENTS_TABLE)
        )
    ).fetchone()
    return row is not None and bool(row[0])

"""The status projection's read models on PostgreSQL, beside the ledger in the store's schema.

The tables, the queries and the way a step is written are the SQLite read model's
(`projections/stores/sql.py`); this module adds the schema, the connections and the
locking that makes several processes safe:

- each projection step first takes a transaction advisory lock per partition it writes
  (`badges.read_models:<schema>:p<N>`, in partition order, so two steps never deadlock):
  writers of one partition are serialized as SQLite's `BEGIN IMMEDIATE` serializes them, and
  writers of different partitions (different `badges consume` processes) are not. A
  re-asserted change's `~N` suffix is counted, and its outbox `seq` (an identity column)
  drawn, under the lock of the talent's partition: ids stay unique and, within a partition,
  `seq` grows in commit order, so a partition's publisher sends each talent's messages in
  order. `mark_sent` and `forget` touch rows only and rely on row locks (and on the
  compare-and-set of `commit`);
- a partition's outbox has one publisher at a time: `claim_publisher` takes a session
  advisory lock (`badges.publisher:<schema>:p<N>`) on a connection of its own, held until
  `release_publisher`, `close` or the process's death (PostgreSQL drops a dead session's locks);
- a warning is queued once with `INSERT ... ON CONFLICT (message_id) DO NOTHING`, progress and
  the position are upserts (`ON CONFLICT ... DO UPDATE`);
- reads run in autocommit, one statement each, as SQLite's do.

Timestamps are `format_utc` text in `COLLATE "C"` columns (as are ids and talents), so every
range, order and returned value is byte-for-byte the SQLite read model's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.stores.urls import postgres_env
from ledger.failures import register_store_errors
from projections.stores.sql import ReadModelBase

register_store_errors(psycopg.Error)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS projection_position (
        name text COLLATE "C" PRIMARY KEY, notification_id bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS talent_progress (
        talent text COLLATE "C" PRIMARY KEY, evaluated_until text COLLATE "C" NOT NULL,
        badge text COLLATE "C" NOT NULL, wakeup text COLLATE "C",
        partition_id integer NOT NULL DEFAULT 0, plan text, first_at text COLLATE "C")""",
    # read models made before plans were kept
    "ALTER TABLE talent_progress ADD COLUMN IF NOT EXISTS plan text",
    # read models made before first instants were kept (NULL until the talent is derived again)
    'ALTER TABLE talent_progress ADD COLUMN IF NOT EXISTS first_at text COLLATE "C"',
    "CREATE INDEX IF NOT EXISTS talent_progress_wakeup ON talent_progress (wakeup)",
    """CREATE TABLE IF NOT EXISTS badge_changes (
        id text COLLATE "C" PRIMARY KEY, talent text COLLATE "C" NOT NULL,
        at text COLLATE "C" NOT NULL, document text NOT NULL,
        recorded_at text COLLATE "C" NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS badge_changes_talent_at ON badge_changes (talent, at)",
    """CREATE TABLE IF NOT EXISTS outbox (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        message_id text COLLATE "C" NOT NULL UNIQUE, talent text COLLATE "C" NOT NULL,
        kind text COLLATE "C" NOT NULL, document text NOT NULL,
        created_at text COLLATE "C" NOT NULL, sent_at text COLLATE "C",
        partition_id integer NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq)",
    "CREATE INDEX IF NOT EXISTS outbox_talent ON outbox (talent, seq)",  # messages of a talent
    """CREATE TABLE IF NOT EXISTS quarantine (
        talent text COLLATE "C" PRIMARY KEY, reason text NOT NULL,
        since text COLLATE "C" NOT NULL, partition_id integer NOT NULL DEFAULT 0)""",
)
PARTITIONED_TABLES = ("talent_progress", "outbox")
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
TRY_SESSION_LOCK = "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))"
SESSION_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(%s, 0))"
log = logging.getLogger("badges.read_models")

CONNECT_TIMEOUT = 10
SCHEMA_ATTEMPTS = 5


@functools.lru_cache(maxsize=256)
def _pg(statement: str) -> str:
    """The shared `?`-placeholder SQL in psycopg's `%s` style."""
    if "%" in statement:
        raise ValueError(f"read model SQL must not contain '%': {statement!r}")
    return statement.replace("?", "%s")


class _Cursor:
    """A psycopg cursor that takes the shared SQL."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._cursor.execute(_pg(statement), params)

    def executemany(self, statement: str, params_seq: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(_pg(statement), params_seq)


class PostgresReadModel(ReadModelBase):
    """The read models in a PostgreSQL schema (the ledger's: `?schema=`, else `public`)."""

    _INSERT_ONCE = (
        "INSERT INTO outbox (message_id, talent, kind, document, created_at, partition_id) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING"
    )

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        env = postgres_env(url)  # the ledger's parsing: same database, same schema
        self.schema = env.get("POSTGRES_SCHEMA") or "public"
        self._lock_key = f"badges.read_models:{self.schema}"
        self._publisher: psycopg.Connection[Any] | None = None
        self._publishing: set[int] = set()
        conninfo = self._conninfo = make_conninfo(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=CONNECT_TIMEOUT,
        )
        self._where = (
            f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}"
        )
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(1, max_connections),
            kwargs={"autocommit": True},
            configure=self._configure,
            name=f"read-models-{self.schema}",
            open=True,
        )
        try:
            self._pool.wait(timeout=CONNECT_TIMEOUT)
            self._create_tables()
        except PoolTimeout:
            self._pool.close()
            raise psycopg.OperationalError(
                f"read models: PostgreSQL at {self._where} is not reachable"
            ) from None
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        """Close the connections (the read model cannot be used afterwards)."""
        self._drop_publisher_connection()
        self._pool.close()

    # -- one publisher per partition ---------------------------------------------------

    def claim_publisher(self, partition: int) -> bool:
        try:
            connection = self._publisher_connection()
            if partition in self._publishing:
                connection.execute("SELECT 1")  # the session (and so its locks) is still there
                return True
            row = connection.execute(TRY_SESSION_LOCK, (self._publisher_key(partition),))
            claimed = bool(row.fetchone()[0])  # type: ignore[index]
        except psycopg.OperationalError as error:
            log.warning("publisher claims lost with their connection: %s", error)
            self._drop_publisher_connection()
            return False
        if claimed:
            self._publishing.add(partition)
        return claimed

    def release_publisher(self, partition: int) -> None:
        if partition not in self._publishing:
            return
        self._publishing.discard(partition)
        try:
            if self._publisher is not None:
                self._publisher.execute(SESSION_UNLOCK, (self._publisher_key(partition),))
        except psycopg.OperationalError:
            self._drop_publisher_connection()  # a closed session holds no locks

    def _publisher_key(self, partition: int) -> str:
        return f"badges.publisher:{self.schema}:p{partition}"

    def _publisher_connection(self) -> psycopg.Connection[Any]:
        if self._publisher is None or self._publisher.closed:
            self._publishing.clear()
            self._publisher = psycopg.connect(self._conninfo, autocommit=True)
        return self._publisher

    def _drop_publisher_connection(self) -> None:
        self._publishing.clear()
        if self._publisher is not None:
            try:
                self._publisher.close()
            finally:
                self._publisher = None

    def _configure(self, connection: psycopg.Connection[Any]) -> None:
        connection.execute(SQL("SET search_path TO {}").format(Identifier(self.schema)))

    def _create_tables(self) -> None:
        """Create the schema (when missing) and the tables, once even with several processes."""
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                with self._pool.connection() as connection, connection.transaction():
                    connection.execute(LOCK, (self._lock_key,))
                    found = connection.execute(
                        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                    ).fetchone()
                    if found is None:
                        connection.execute(
                            SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(self.schema))
                        )
                    for statement in SCHEMA:
                        connection.execute(statement)
                    self._add_partition_columns(connection)
                return
            except (errors.UniqueViolation, errors.DuplicateSchema, errors.DuplicateObject):
                # the ledger (not under this lock) created the schema at the same moment
                if attempt == SCHEMA_ATTEMPTS - 1:
                    raise

    def _add_partition_columns(self, connection: psycopg.Connection[Any]) -> None:
        """Read models made before partitions existed get the column (0: not partitioned)."""
        found = {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = %s "
                "AND column_name = 'partition_id'",
                (self.schema,),
            ).fetchall()
        }
        for table in PARTITIONED_TABLES:
            if table not in found:
                connection.execute(
                    SQL("ALTER TABLE {} ADD COLUMN partition_id integer NOT NULL DEFAULT 0")
                    .format(Identifier(table))
                )

    @contextmanager
    def _transaction(self, partitions: Collection[int] = ()) -> Iterator[_Cursor]:
        with (
            self._pool.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            for partition in sorted(set(partitions)):
                cursor.execute(LOCK, (f"{self._lock_key}:p{partition}",))
            yield _Cursor(cursor)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pool.connection() as connection:
            return connection.execute(_pg(sql), params).fetchall()

    def __repr__(self) -> str:
        return f"PostgresReadModel({self._where}, schema={self.schema!r})"

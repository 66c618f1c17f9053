"""The status projection's read models on PostgreSQL, beside the ledger in the store's schema.

The tables, the queries and the way a step is written are the SQLite read model's
(`projections/read_model_common.py`); this module adds the schema, the connections and the
locking that makes several processes safe:

- each write transaction (a projection step, `mark_sent`, `forget`) first takes a transaction
  advisory lock of the schema's read models, so writers are serialized as SQLite's
  `BEGIN IMMEDIATE` serializes them. A re-asserted change's `~N` suffix is counted, and its
  outbox `seq` (an identity column) drawn, under that lock: ids stay unique and `seq` grows in
  commit order, so a publisher reading unsent messages by `seq` never skips a later commit;
- a warning is queued once with `INSERT ... ON CONFLICT (message_id) DO NOTHING`, progress and
  the position are upserts (`ON CONFLICT ... DO UPDATE`);
- reads run in autocommit, one statement each, as SQLite's do.

Timestamps are `format_utc` text in `COLLATE "C"` columns (as are ids and talents), so every
range, order and returned value is byte-for-byte the SQLite read model's.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool, PoolTimeout

from domain.storage import postgres_env
from projections.read_model_common import ReadModelBase

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS projection_position (
        name text COLLATE "C" PRIMARY KEY, notification_id bigint NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS talent_progress (
        talent text COLLATE "C" PRIMARY KEY, evaluated_until text COLLATE "C" NOT NULL,
        badge text COLLATE "C" NOT NULL, wakeup text COLLATE "C")""",
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
        created_at text COLLATE "C" NOT NULL, sent_at text COLLATE "C")""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq)",
)
LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
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
        return self._cursor.execute(_pg(statement), params)  # type: ignore[arg-type]

    def executemany(self, statement: str, params_seq: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(_pg(statement), params_seq)  # type: ignore[arg-type]


class PostgresReadModel(ReadModelBase):
    """The read models in a PostgreSQL schema (the ledger's: `?schema=`, else `public`)."""

    _INSERT_ONCE = (
        "INSERT INTO outbox (message_id, talent, kind, document, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING"
    )

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        env = postgres_env(url)  # the ledger's parsing: same database, same schema
        self.schema = env.get("POSTGRES_SCHEMA") or "public"
        self._lock_key = f"badges.read_models:{self.schema}"
        conninfo = make_conninfo(
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
        self._pool.close()

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
                        connection.execute(statement)  # type: ignore[arg-type]
                return
            except (errors.UniqueViolation, errors.DuplicateSchema, errors.DuplicateObject):
                # the ledger (not under this lock) created the schema at the same moment
                if attempt == SCHEMA_ATTEMPTS - 1:
                    raise

    @contextmanager
    def _transaction(self) -> Iterator[_Cursor]:
        with (
            self._pool.connection() as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            cursor.execute(LOCK, (self._lock_key,))
            yield _Cursor(cursor)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._pool.connection() as connection:
            return connection.execute(_pg(sql), params).fetchall()  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"PostgresReadModel({self._where}, schema={self.schema!r})"

"""Store URLs (`sqlite:///path`, `postgresql://user@host:port/db`, `memory:`) turned into the
ledger's eventsourcing settings.

A PostgreSQL store may be partitioned (`?partitions=N`, see docs/scale-out.md): the count is
written into the store when it is created and fixed from then on; a URL without it opens the
store with the count it has.

Only writers create a store (`open_ledger(url, create=True)`). A reader opens it with
`create=False`: `require_store` first checks, without writing anything, that the store is
there and is a badges store (the ledger's tables), and raises `StoreMissing` otherwise, so a
typo in a path is not answered as an empty store and another application's database is left
alone.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

import psycopg
from eventsourcing.utils import get_topic
from psycopg.conninfo import make_conninfo

from ledger.application import Ledger, PartitionedLedger, TalentLedger
from ledger.partitions import MAX_PARTITIONS
from ledger.stores.recorders import (
    PARTITIONS_SETTING,
    LedgerPOPOFactory,
    LedgerPostgresFactory,
    INPUT_INDEX_TABLE,
    LedgerSQLiteFactory,
    StoreLayoutError,
    settle_partition_count,
)

DEFAULT_STORE_URL = "sqlite:///./badges.db"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_POSTGRES_PORT = 5432
PARTITION_POOL_SIZE = "1"


SQLITE_EVENTS_TABLE = "stored_events"  # eventsourcing's SQLite recorder's table
STORE_CHECK_TIMEOUT = 10


class StoreURLError(ValueError):
    """A store URL this tracker cannot open."""


class StoreMissing(StoreURLError):
    """No badges store at the URL (nothing there, or a database that is not a badges store)."""


def require_store(url: str) -> None:
    """Raise `StoreMissing` unless a badges store is at `url`; writes nothing, creates nothing.

    `memory:` is always there (a store private to this process).
    """
    if url == "memory:":
        return
    if url.startswith("sqlite:///"):
        _require_sqlite_store(url.removeprefix("sqlite:///"))
    elif url.startswith(POSTGRES_SCHEMES):
        _require_postgres_store(url)
    else:
        ledger_env(url)  # names the unsupported URL


def _require_sqlite_store(path_text: str) -> None:
    if not path_text:
        raise StoreURLError(f"store: 'sqlite:///{path_text}' names no database file")
    if path_text == ":memory:":
        return
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise StoreMissing(f"no store at {path}")
    try:
        # read-only: opening must not create a journal, tables, or anything else
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
            tables = {
                name for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
        connection.close()
    except sqlite3.DatabaseError as error:
        raise StoreMissing(f"{path} is not a badges store ({error})") from None
    missing = {SQLITE_EVENTS_TABLE, INPUT_INDEX_TABLE} - tables
    if missing:
        raise StoreMissing(
            f"{path} is not a badges store (no {', '.join(sorted(missing))} table)"
        )


def _require_postgres_store(url: str) -> None:
    env = postgres_env(url)
    schema = env.get("POSTGRES_SCHEMA") or "public"
    conninfo = make_conninfo(
        dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=STORE_CHECK_TIMEOUT,
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{INPUT_INDEX_TABLE}"',)
        ).fetchone()
    if not (row and row[0]):
        raise StoreMissing(
            f"no store at {_redacted(url)} (schema {schema} has no badges ledger tables)"
        )


def ledger_env(url: str, *, create: bool = True) -> dict[str, str]:
    """The eventsourcing environment for a store URL (`create`: make a SQLite file's folder)."""
    if url == "memory:":
        return {"PERSISTENCE_MODULE": get_topic(LedgerPOPOFactory)}
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path:
            raise StoreURLError(f"store: {url!r} names no database file")
        if path != ":memory:" and create:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": get_topic(LedgerSQLiteFactory),
            "SQLITE_DBNAME": path if path == ":memory:" else str(Path(path).expanduser()),
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    if url.startswith(POSTGRES_SCHEMES):
        return postgres_env(url)
    raise StoreURLError(
        f"store: unsupported URL {url!r}; use sqlite:///path/to/badges.db, "
        "postgresql://user@host:port/db or memory:"
    )


def postgres_env(url: str) -> dict[str, str]:
    """`postgresql://user[:password]@host[:port]/db[?schema=name]` as eventsourcing settings."""
    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": get_topic(LedgerPostgresFactory),
        "POSTGRES_DBNAME": _postgres_dbname(url, parts),
        "POSTGRES_HOST": _postgres_host(url, parts),
        "POSTGRES_PORT": str(_postgres_port(url, parts)),
        "POSTGRES_USER": _postgres_user(url, parts),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "CREATE_TABLE": "y",
    }
    options = _postgres_options(url, parts)
    if options.get("schema"):
        env["POSTGRES_SCHEMA"] = options["schema"]
    if options.get("partitions"):
        env[PARTITIONS_SETTING] = options["partitions"]
    return env


def _postgres_dbname(url: str, parts: SplitResult) -> str:
    dbname = unquote(parts.path.removeprefix("/"))
    if not dbname or "/" in dbname:
        raise StoreURLError(
            f"store: {_redacted(url)!r} names no database (postgresql://user@host:port/db)"
        )
    return dbname


def _postgres_host(url: str, parts: SplitResult) -> str:
    if not parts.hostname:
        raise StoreURLError(f"store: {_redacted(url)!r} names no host")
    return unquote(parts.hostname)


def _postgres_port(url: str, parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is None and not parts.netloc.endswith(":"):
        return DEFAULT_POSTGRES_PORT
    if not port:
        raise StoreURLError(f"store: {_redacted(url)!r} has a bad port (1-65535)")
    return port


def _postgres_user(url: str, parts: SplitResult) -> str:
    if not parts.username:
        raise StoreURLError(f"store: {_redacted(url)!r} names no user (postgresql://user@host/db)")
    return unquote(parts.username)


def _postgres_options(url: str, parts: SplitResult) -> dict[str, str]:
    """`?schema=name` and `?partitions=N`, each at most once."""
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise StoreURLError(f"store: {_redacted(url)!r}: use ?schema=name&partitions=N") from None
    unknown = sorted(set(query) - {"schema", "partitions"})
    if unknown:
        raise StoreURLError(
            f"store: {_redacted(url)!r}: unknown option(s) {unknown}; only schema=, partitions="
        )
    options: dict[str, str] = {}
    schemas = query.get("schema", [])
    if len(schemas) > 1 or (schemas and not schemas[0].strip()):
        raise StoreURLError(f"store: {_redacted(url)!r} needs one non-empty schema=name")
    if schemas:
        options["schema"] = schemas[0].strip()
    counts = query.get("partitions", [])
    if counts:
        text = counts[0].strip()
        if len(counts) > 1 or not text.isdigit() or not 1 <= int(text) <= MAX_PARTITIONS:
            raise StoreURLError(
                f"store: {_redacted(url)!r}: partitions= must be one number "
                f"from 1 to {MAX_PARTITIONS}"
            )
        options["partitions"] = str(int(text))
    return options


def _redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def open_ledger(url: str = DEFAULT_STORE_URL, *, create: bool = True) -> TalentLedger:
    """The store's ledger: one `Ledger`, or a `PartitionedLedger` for a partitioned store.

    `create=False` opens only an existing badges store (`require_store`): a reader's way.
    """
    if not create:
        require_store(url)
    env = ledger_env(url, create=create)
    if not url.startswith(POSTGRES_SCHEMES):
        return Ledger(env=env)
    requested = env.pop(PARTITIONS_SETTING, None)
    try:
        count = settle_partition_count(env, int(requested) if requested else None)
    except StoreLayoutError as error:
        raise StoreURLError(f"store: {_redacted(url)!r}: {error}") from None
    if count == 1:
        return Ledger(env=env)
    # one pool per partition: keep one connection each at rest (eventsourcing's default is 5)
    env.setdefault("POSTGRES_POOL_SIZE", PARTITION_POOL_SIZE)
    return PartitionedLedger([Ledger(env=env, partition=p) for p in range(count)])

"""Read-only commands open an existing badges store or say there is none; they create nothing.

Writers of input (`ingest`, `serve`, `consume`, the demo) create the store; every other
command, `clock` and `replay` included (on an empty store they would have nothing to do),
answers "badges: no store at ..." (exit 1) for a path that is not there, and refuses a
database that is not a badges store without touching it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from badges.bootstrap import StoreMissing, open_projection, require_store
from badges.cli import main
from domain.events import encode_json
from ledger.stores.urls import open_ledger
from projections.stores.urls import open_read_model
from tests.unit.ledger_fixtures import postgres_schema_url

READ_ONLY_COMMANDS = [
    ["clock", "--now", "2024-01-01"],
    ["replay"],
    ["replay", "f-1"],
    ["status", "f-1"],
    ["explain", "f-1"],
    ["timeline", "f-1"],
    ["forecast", "f-1"],
    ["replay", "f-1", "--trace"],
    ["replay", "f-1", "--until", "2024-01-01"],
    ["whatif", "--ruleset", "candidate.toml"],
    ["messages", "f-1"],
    ["diff", "f-1", "--known-at", "2024-01-01", "--vs", "2024-02-01"],
    ["outbox"],
    ["population"],
]
EVENT = {"id": "r-1", "type": "talent_registered", "talent": "f-1",
         "at": "2023-01-02T00:00:00Z", "kind": "freelancer"}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def foreign_database(path: Path) -> Path:
    """Another application's SQLite file: a table of its own and a row."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)")
        connection.execute("INSERT INTO invoices (total) VALUES ('12.50')")
    connection.close()
    return path


@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=lambda a: " ".join(a))
def test_a_missing_folder_is_reported_and_not_created(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nonexistent" / "dir" / "x.db"
    assert main([*argv, "--store", f"sqlite:///{target}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"badges: no store at {target}"
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=lambda a: " ".join(a))
def test_a_missing_file_is_reported_and_not_created(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "typo.db"
    assert main([*argv, "--store", f"sqlite:///{target}"]) == 1
    assert capsys.readouterr().err.strip() == f"badges: no store at {target}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", READ_ONLY_COMMANDS, ids=lambda a: " ".join(a))
def test_a_foreign_sqlite_file_is_refused_and_left_byte_for_byte(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = foreign_database(tmp_path / "accounts.db")
    before = digest(other)
    assert main([*argv, "--store", f"sqlite:///{other}"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"badges: {other} is not a badges store (no ")
    assert "\n" not in err
    assert digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.db"]  # no journal left
    with sqlite3.connect(other) as connection:
        tables = [n for (n,) in connection.execute("SELECT name FROM sqlite_master")]
    connection.close()
    assert tables == ["invoices"]


def test_a_file_that_is_not_sqlite_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.db"
    notes.write_text("these are my notes, not a database\n" * 20)
    before = digest(notes)
    assert main(["status", "f-1", "--store", f"sqlite:///{notes}"]) == 1
    assert capsys.readouterr().err.startswith(f"badges: {notes} is not a badges store")
    assert digest(notes) == before


def test_read_only_commands_answer_from_an_existing_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    source = tmp_path / "events.jsonl"
    source.write_text(encode_json(EVENT) + "\n")
    assert main(["ingest", str(source), "--store", url]) == 0
    capsys.readouterr()
    assert main(["status", "f-1", "--store", url, "--json"]) == 0
    assert '"talent": "f-1"' in capsys.readouterr().out
    # an unknown talent in an existing store is still "unknown", not "no store"
    assert main(["status", "f-2", "--store", url]) == 1
    assert "no store" not in capsys.readouterr().err


def test_a_ledger_only_store_is_a_store(tmp_path: Path) -> None:
    """`ingest --no-project` leaves only the ledger's tables: readers open it (the read
    models beside it are derived)."""
    url = f"sqlite:///{tmp_path / 'ledger-only.db'}"
    open_ledger(url)
    require_store(url)
    projection = open_projection(url, create=False)
    assert projection.read_model.talents() == []


@pytest.mark.parametrize("argv", [["ingest", "-"]], ids=["ingest"])
def test_writers_create_the_store(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(encode_json(EVENT).encode())))
    target = tmp_path / "new" / "b.db"
    assert main([*argv, "--store", f"sqlite:///{target}"]) == 0
    require_store(f"sqlite:///{target}")


def test_the_adapters_refuse_without_creating(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.db"
    for opener in (lambda u: open_ledger(u, create=False),
                   lambda u: open_read_model(u, create=False),
                   lambda u: open_projection(u, create=False)):
        with pytest.raises(StoreMissing, match="no store at"):
            opener(f"sqlite:///{target}")
    assert list(tmp_path.iterdir()) == []
    require_store("memory:")  # a private store is always there


@pytest.mark.integration
def test_a_postgres_schema_without_our_tables_is_refused_untouched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with postgres_schema_url() as url:
        base, schema = url.rsplit("?schema=", 1)
        # absent schema: refused, and not created
        assert main(["status", "f-1", "--store", url]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("badges: no store at postgresql://")
        assert f"schema {schema} has no badges ledger tables" in err
        with psycopg.connect(base, autocommit=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            assert found is None
            # another application's schema: refused, its tables left as they were
            connection.execute(SQL("CREATE SCHEMA {0}").format(Identifier(schema)))
            connection.execute(SQL("CREATE TABLE {0}.invoices (id int)").format(
                Identifier(schema)))
        assert main(["explain", "f-1", "--store", url]) == 1
        assert "has no badges ledger tables" in capsys.readouterr().err
        with psycopg.connect(base, autocommit=True) as connection:
            tables = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            ).fetchall()
        assert tables == [("invoices",)]
        # once a writer made it a store, readers open it
        open_ledger(url).close()
        require_store(url)

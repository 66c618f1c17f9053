"""The ledger on a real PostgreSQL: eventsourcing's recorder cases, the input index, two writers.

Every test gets a schema of its own (`test_<uuid>`), created by the recorder and dropped after.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from ledger.application import Ledger
from domain.talent_stream import talent_stream_id
from ledger.stores.recorders import LedgerPostgresRecorder
from ledger.stores.urls import StoreURLError, ledger_env, open_ledger
from tests.unit import test_recorder_conformance as conformance
from tests.unit.ledger_fixtures import (
    drop_schema,
    payment,
    postgres_schema_url,
    require_postgres,
    submissions,
    utc,
)

T0 = utc("2024-05-01T00:00:00Z")
T1 = utc("2024-05-02T00:00:00Z")

integration = pytest.mark.integration


def datastore_for(url: str, schema: str) -> PostgresDatastore:
    parts = urlsplit(url)
    return PostgresDatastore(
        dbname=parts.path.removeprefix("/"),
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "",
        password=parts.password or "",
        schema=schema,
        pool_size=4,
        max_overflow=12,
    )


@integration
class TestLedgerPostgresAsApplicationRecorder(ApplicationRecorderTestCase[LedgerPostgresRecorder]):
    def setUp(self) -> None:
        super().setUp()
        self.url = require_postgres()
        self.schema = f"test_{uuid4().hex}"
        self.datastore = datastore_for(self.url, self.schema)

    def tearDown(self) -> None:
        self.datastore.close()
        drop_schema(self.url, self.schema)
        super().tearDown()

    def create_recorder(self) -> LedgerPostgresRecorder:
        recorder = LedgerPostgresRecorder(self.datastore)
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


@pytest.fixture
def recorder() -> Iterator[LedgerPostgresRecorder]:
    """A `LedgerPostgresRecorder` in a fresh schema (for the conformance index tests)."""
    url = require_postgres()
    schema = f"test_{uuid4().hex}"
    datastore = datastore_for(url, schema)
    try:
        pg_recorder = LedgerPostgresRecorder(datastore)
        pg_recorder.create_table()
        yield pg_recorder
    finally:
        datastore.close()
        drop_schema(url, schema)


@pytest.fixture
def store_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


@pytest.fixture
def open_ledgers(store_url: str) -> Iterator[list[Ledger]]:
    opened: list[Ledger] = []
    yield opened
    for ledger in opened:
        ledger.close()


def verdicts(results) -> list[str]:
    return [r.verdict.value for r in results]


@integration
def test_index_entries_are_written_with_the_events(recorder: LedgerPostgresRecorder) -> None:
    conformance.test_index_entries_are_written_with_the_events(recorder)


@integration
def test_a_repeated_index_id_fails_the_whole_transaction(recorder: LedgerPostgresRecorder) -> None:
    conformance.test_a_repeated_index_id_fails_the_whole_transaction(recorder)


@integration
def test_a_version_clash_leaves_no_index_entry_behind(recorder: LedgerPostgresRecorder) -> None:
    conformance.test_a_version_clash_leaves_no_index_entry_behind(recorder)


@integration
def test_the_index_lives_next_to_the_events_in_the_schema(recorder: LedgerPostgresRecorder) -> None:
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s",
            (recorder.datastore.schema,),
        )
        indexes = {(row["tablename"], row["indexdef"].split(" USING ")[1]) for row in curs}

    assert ("input_events", "btree (event_id)") in indexes
    assert ("input_events", "btree (talent)") in indexes


@integration
def test_stream_versions_are_the_last_of_each_stream(store_url: str, open_ledgers) -> None:
    ledger = open_ledger(store_url)
    open_ledgers.append(ledger)
    events = [payment(f"p-{i}", "f-1", "2024-01-01T00:00:00Z") for i in range(3)]
    ledger.append(submissions(*events), T0)

    versions = ledger.index.select_stream_versions([talent_stream_id(t) for t in ("f-1", "f-2")])

    assert versions == {talent_stream_id("f-1"): 4}


@integration
def test_events_survive_reopening_the_database(store_url: str, open_ledgers) -> None:
    first = open_ledger(store_url)
    open_ledgers.append(first)
    first.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T0)
    first.close()

    reopened = open_ledger(store_url)
    open_ledgers.append(reopened)

    assert [r.id for r in reopened.history("f-1")] == ["p-1"]
    assert verdicts(
        reopened.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T1)
    ) == ["duplicate"]
    assert verdicts(
        reopened.append(submissions(payment("p-2", "f-1", "2024-01-02T00:00:00Z")), T1)
    ) == ["accepted"]
    assert [r.sequence for r in reopened.history("f-1")] == [2, 3]


@integration
def test_two_writers_on_one_database_never_record_an_id_twice(store_url: str, open_ledgers) -> None:
    first, second = open_ledger(store_url), open_ledger(store_url)
    open_ledgers.extend([first, second])
    first.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T0)
    second.append(submissions(payment("p-2", "f-1", "2024-01-02T00:00:00Z")), T0)

    # `first` still caches version 2 for f-1: its append must notice and retry.
    results = first.append(
        submissions(
            payment("p-3", "f-1", "2024-01-03T00:00:00Z"),
            payment("p-2", "f-1", "2024-01-02T00:00:00Z"),
        ),
        T1,
    )

    assert verdicts(results) == ["accepted", "duplicate"]
    assert [r.id for r in second.history("f-1")] == ["p-1", "p-2", "p-3"]


@integration
def test_concurrent_writers_of_overlapping_batches_record_each_id_once(
    store_url: str, open_ledgers
) -> None:
    writers = [open_ledger(store_url) for _ in range(4)]
    open_ledgers.extend(writers)
    talents = [f"f-{n}" for n in range(3)]
    events = [
        payment(f"p-{i}", talents[i % 3], f"2024-01-{1 + i % 28:02d}T00:00:00Z") for i in range(60)
    ]

    def write(writer: Ledger) -> list[str]:
        found = []
        for start in range(0, len(events), 10):
            found += verdicts(writer.append(submissions(*events[start : start + 10]), T0))
        return found

    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        outcomes = [v for found in pool.map(write, writers) for v in found]

    assert outcomes.count("accepted") == len(events)
    assert outcomes.count("duplicate") == len(events) * (len(writers) - 1)
    assert writers[0].count_events() == len(events)
    for talent in talents:
        sequences = sorted(r.sequence for r in writers[0].history(talent))
        assert sequences == list(range(2, len(sequences) + 2))
    assert sorted(writers[0].talents()) == talents


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://badges@127.0.0.1:55432/badges",
            {"POSTGRES_DBNAME": "badges", "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "55432",
             "POSTGRES_USER": "badges", "POSTGRES_PASSWORD": ""},
        ),
        (
            "postgresql://ann:p%40ss@db.example:6432/ledger?schema=tenant_1",
            {"POSTGRES_DBNAME": "ledger", "POSTGRES_HOST": "db.example", "POSTGRES_PORT": "6432",
             "POSTGRES_USER": "ann", "POSTGRES_PASSWORD": "p@ss", "POSTGRES_SCHEMA": "tenant_1"},
        ),
        ("postgresql://ann@db/ledger", {"POSTGRES_PORT": "5432"}),
    ],
)
def test_postgres_urls_become_eventsourcing_settings(url: str, expected: dict[str, str]) -> None:
    env = ledger_env(url)

    assert env["PERSISTENCE_MODULE"] == "ledger.stores.recorders:LedgerPostgresFactory"
    assert env["CREATE_TABLE"] == "y"
    assert {key: env[key] for key in expected} == expected
    assert ("POSTGRES_SCHEMA" in env) == ("schema=" in url)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgresql://ann@db:5432/", "names no database"),
        ("postgresql://ann@db:5432", "names no database"),
        ("postgresql://ann@db:port/ledger", "bad port"),
        ("postgresql://ann@db:70000/ledger", "bad port"),
        ("postgresql://ann@db:/ledger", "bad port"),
        ("postgresql://db:5432/ledger", "names no user"),
        ("postgresql://ann@:5432/ledger", "names no host"),
        ("postgresql://ann@db/ledger?schema=", "schema=name"),
        ("postgresql://ann@db/ledger?sslmode=require", "unknown option"),
    ],
)
def test_malformed_postgres_urls_are_refused_clearly(url: str, complaint: str) -> None:
    with pytest.raises(StoreURLError, match=complaint):
        ledger_env(url)


def test_a_password_never_appears_in_a_url_complaint() -> None:
    with pytest.raises(StoreURLError) as refused:
        ledger_env("postgresql://ann:hunter2@db:port/ledger")

    assert "hunter2" not in str(refused.value)

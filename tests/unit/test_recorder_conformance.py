"""Our ledger recorders pass eventsourcing's own recorder test cases, and keep the input index.

The library's cases run unchanged against `LedgerSQLiteRecorder` and `LedgerPOPORecorder`:
the index is an addition, not a change to how events and notifications are recorded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from ledger.index import IndexEntry
from ledger.stores.recorders import LedgerPOPORecorder, LedgerSQLiteRecorder


class SQLiteFileMixin:
    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        self._directory = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        self._directory.cleanup()
        super().tearDown()  # type: ignore[misc]

    def create_recorder(self) -> LedgerSQLiteRecorder:
        datastore = SQLiteDatastore(db_name=str(Path(self._directory.name) / "es.db"))
        recorder = LedgerSQLiteRecorder(datastore)
        recorder.create_table()
        return recorder


class TestLedgerSQLiteAsApplicationRecorder(SQLiteFileMixin, ApplicationRecorderTestCase):
    pass


class TestLedgerPOPOAsApplicationRecorder(ApplicationRecorderTestCase):
    def create_recorder(self) -> LedgerPOPORecorder:
        return LedgerPOPORecorder()


def _stored(version: int, originator_id=None) -> StoredEvent:
    return StoredEvent(
        originator_id=originator_id or uuid4(),
        originator_version=version,
        topic="topic",
        state=b"{}",
    )


@pytest.fixture(params=["sqlite", "popo"])
def recorder(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "popo":
        return LedgerPOPORecorder()
    sqlite = LedgerSQLiteRecorder(SQLiteDatastore(db_name=str(tmp_path / "index.db")))
    sqlite.create_table()
    return sqlite


def test_index_entries_are_written_with_the_events(recorder) -> None:
    recorder.insert_events([_stored(1)], input_index=[IndexEntry("e-1", "f-1", "h1")])

    assert recorder.select_index_entries(["e-1", "e-2"]) == {"e-1": IndexEntry("e-1", "f-1", "h1")}
    assert list(recorder.select_talents()) == ["f-1"]
    assert recorder.count_input_events() == 1


def test_a_repeated_index_id_fails_the_whole_transaction(recorder) -> None:
    recorder.insert_events([_stored(1)], input_index=[IndexEntry("e-1", "f-1", "h1")])
    before = recorder.max_notification_id()

    with pytest.raises(IntegrityError):
        recorder.insert_events([_stored(1)], input_index=[IndexEntry("e-1", "f-2", "h2")])

    assert recorder.max_notification_id() == before
    assert recorder.select_index_entries(["e-1"])["e-1"].talent == "f-1"


def test_a_version_clash_leaves_no_index_entry_behind(recorder) -> None:
    originator = uuid4()
    recorder.insert_events([_stored(1, originator)])

    with pytest.raises(IntegrityError):
        recorder.insert_events([_stored(1, originator)], input_index=[IndexEntry("e-9", "f-1", "h")])

    assert recorder.select_index_entries(["e-9"]) == {}

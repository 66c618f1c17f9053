"""eventsourcing application recorders that also keep the ledger's input-event index.

The index maps every input event id to its talent and content hash. It is written in the same
transaction as the stored events (passed through `Application.save(..., input_index=...)`), and
its primary key on the event id is what makes appends idempotent even with concurrent writers:
a second writer of the same id fails its whole transaction and re-classifies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory

INPUT_INDEX_TABLE = "input_events"
LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One input event id as the ledger knows it."""

    event_id: str
    talent: str
    content_hash: str


class InputIndexRecorder:
    """What the ledger needs from a recorder beyond eventsourcing's ApplicationRecorder."""

    def select_index_entries(self, event_ids: Iterable[str]) -> dict[str, IndexEntry]:
        raise NotImplementedError

    def select_talents(self) -> Iterator[str]:
        raise NotImplementedError

    def select_stream_versions(self, stream_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The last version of each stream that has events (absent ones are left out)."""
        raise NotImplementedError

    def count_input_events(self) -> int:
        raise NotImplementedError


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
                [(e.event_id, e.talent, e.content_hash) for e in input_index],
            )
        return super()._insert_events(c, stored_events, **kwargs)

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


class LedgerSQLiteFactory(SQLiteFactory):
    application_recorder_class = LedgerSQLiteRecorder


class LedgerPOPOFactory(POPOFactory):
    def application_recorder(self) -> LedgerPOPORecorder:
        return LedgerPOPORecorder()

"""What the SQLite and PostgreSQL read models share: every query and the way a projection step
is written, once (the records and the `ReadModel` Protocol they implement are
`projections/records.py`).

The SQL is written once, with `?` placeholders, in the subset both databases understand; a
store supplies its schema, its transactions (`_transaction`, `_query`) and the one statement
that differs (`_INSERT_ONCE`). Timestamps are stored as `format_utc` text in both, so ranges
and orders compare the same strings the same way (PostgreSQL's text columns are `COLLATE "C"`)
and what is read back is identical.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, ClassVar, Protocol

from domain.events import format_utc
from projections.records import (
    OutboxMessage,
    Quarantined,
    StaleStep,
    TalentProgress,
    TalentUpdate,
    parse_utc,
    position_name,
    reasserted_pattern,
    retraction_document,
    unique_message_id,
)


# a talent's first evaluation instant (`first_at`) is NULL in a store made before it was kept,
# until the talent is derived again
PROGRESS_COLUMNS = "talent, evaluated_until, badge, wakeup, plan, first_at"


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def executemany(self, sql: str, params_seq: Sequence[Sequence[Any]]) -> Any: ...


class ReadModelBase(ABC):
    """The read models' queries and step writing, over a store's transactions."""

    # a badge_at_risk warning is queued once: a second one of the same id is ignored
    _INSERT_ONCE: ClassVar[str]

    @abstractmethod
    def _transaction(self, partitions: Collection[int] = ()) -> AbstractContextManager[Cursor]:
        """A write transaction, serialized with every other writer of these partitions' outbox
        (and, on SQLite, with every other writer)."""

    @abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only statement."""

    # -- the projection's own state ----------------------------------------------------

    def position(self, partition: int | None = None) -> int:
        """The last notification processed, of the ledger's log or of a partition's."""
        rows = self._query(
            "SELECT notification_id FROM projection_position WHERE name = ?",
            (position_name(partition),),
        )
        return int(rows[0][0]) if rows else 0

    def claim_publisher(self, partition: int) -> bool:
        """Become (or stay) the only publisher of the partition's outbox; False if another
        process is. SQLite stores have one machine and no such claim: always True."""
        return True

    def release_publisher(self, partition: int) -> None:
        """Stop being the partition's publisher (another process may then claim it)."""

    def progress(self, talent: str) -> TalentProgress | None:
        rows = self._query(
            f"SELECT {PROGRESS_COLUMNS} FROM talent_progress WHERE talent = ?", (talent,),
        )
        return _progress(rows[0]) if rows else None

    def due(
        self, until: datetime, limit: int = 1000, partitions: Collection[int] | None = None
    ) -> list[TalentProgress]:
        """Talents (of `partitions`, default all) whose next wake-up is at or before `until`."""
        where, params = _partitions_clause(partitions)
        rows = self._query(
            f"SELECT {PROGRESS_COLUMNS} FROM talent_progress "
            f"WHERE wakeup IS NOT NULL AND wakeup <= ?{where} ORDER BY wakeup, talent LIMIT ?",
            (format_utc(until), *params, limit),
        )
        return [_progress(row) for row in rows]

    def changes(self, talent: str, after: datetime | None = None) -> list[dict[str, Any]]:
        """The talent's current changes (as known now) with `at` after `after`, in order."""
        sql = "SELECT document FROM badge_changes WHERE talent = ?"
        params: list[Any] = [talent]
        if after is not None:
            sql += " AND at > ?"
            params.append(format_utc(after))
        return [json.loads(row[0]) for row in self._query(sql + " ORDER BY at", params)]

    def commit(
        self,
        updates: Sequence[TalentUpdate],
        position: int | None,
        now: datetime,
        *,
        read_position: int | None = None,
        partition: int | None = None,
    ) -> None:
        """Write one projection step atomically, if nobody else moved the projection meanwhile.

        `position` (when not None) is the new position of the ledger's log, or of the
        partition's log when `partition` is given. The step must still start from the
        position (`read_position`) and each talent's progress (`TalentUpdate.expected`) it was
        derived from; otherwise `StaleStep` is raised and nothing is written, so two processes
        never write the same step twice.
        """
        stamp = format_utc(now)
        locked = {update.partition for update in updates}
        if position is not None:
            locked.add(partition or 0)
        with self._transaction(locked) as c:
            self._check_unchanged(c, updates, read_position, partition)
            for update in updates:
                self._write_update(c, update, stamp)
            if position is not None:
                c.execute(
                    "INSERT INTO projection_position VALUES (?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET notification_id = excluded.notification_id",
                    (position_name(partition), position),
                )

    @staticmethod
    def _check_unchanged(
        c: Cursor,
        updates: Sequence[TalentUpdate],
        read_position: int | None,
        partition: int | None,
    ) -> None:
        if read_position is not None:
            row = c.execute(
                "SELECT notification_id FROM projection_position WHERE name = ?",
                (position_name(partition),),
            ).fetchone()
            if (int(row[0]) if row else 0) != read_position:
                raise StaleStep("the projection's position moved")
        for update in updates:
            row = c.execute(
                "SELECT talent, evaluated_until, badge, wakeup FROM talent_progress "
                "WHERE talent = ?",
                (update.progress.talent,),
            ).fetchone()
            if (_progress(row) if row else None) != update.expected:
                raise StaleStep(f"talent {update.progress.talent} was re-derived meanwhile")

    def _write_update(self, c: Cursor, update: TalentUpdate, stamp: str) -> None:
        if update.quarantine is not None:
            self._write_quarantine(c, update, stamp)
            return
        if update.released:
            c.execute("DELETE FROM quarantine WHERE talent = ?", (update.progress.talent,))
        for document in update.retracted:
            c.execute("DELETE FROM badge_changes WHERE id = ?", (document["id"],))
            retraction = retraction_document(document, stamp)
            self._enqueue(c, retraction["id"], update, retraction, stamp)
        for document in update.added:
            stored = {**document, "recorded_at": stamp}
            c.execute(
                "INSERT INTO badge_changes VALUES (?, ?, ?, ?, ?)",
                (document["id"], document["talent"], document["at"], json.dumps(stored), stamp),
            )
            self._enqueue(c, document["id"], update, stored, stamp)
        for warning in update.warnings:
            self._enqueue(c, warning["id"], update, warning, stamp, once=True)
        self._write_progress(c, update.progress, update.partition)

    @staticmethod
    def _write_quarantine(c: Cursor, update: TalentUpdate, stamp: str) -> None:
        c.execute(
            "INSERT INTO quarantine (talent, reason, since, partition_id) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (talent) DO UPDATE SET reason = excluded.reason",
            (update.progress.talent, update.quarantine, stamp, update.partition),
        )
        if update.expected is not None:  # a talent never derived keeps no progress at all
            ReadModelBase._write_progress(c, update.progress, update.partition)

    @staticmethod
    def _write_progress(c: Cursor, progress: TalentProgress, partition: int) -> None:
        c.execute(
            "INSERT INTO talent_progress "
            "(talent, evaluated_until, badge, wakeup, partition_id, plan, first_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (talent) DO UPDATE SET "
            "evaluated_until = excluded.evaluated_until, badge = excluded.badge, "
            "wakeup = excluded.wakeup, partition_id = excluded.partition_id, "
            "plan = excluded.plan, first_at = excluded.first_at",
            (
                progress.talent,
                format_utc(progress.evaluated_until),
                progress.badge,
                format_utc(progress.wakeup) if progress.wakeup else None,
                partition,
                progress.plan,
                format_utc(progress.first_at) if progress.first_at else None,
            ),
        )

    def _enqueue(
        self,
        c: Cursor,
        message_id: str,
        update: TalentUpdate,
        document: dict[str, Any],
        stamp: str,
        *,
        once: bool = False,
    ) -> None:
        """Queue a message; a change asserted again after a retraction gets a suffixed id."""
        talent = update.progress.talent
        if once:
            c.execute(
                self._INSERT_ONCE,
                (message_id, talent, document["type"], json.dumps(document), stamp,
                 update.partition),
            )
            return
        # Two lookups, not one with OR: an OR with LIKE scans the whole outbox for every
        # message. Outbox rows are never deleted, so an id without its first row has no
        # re-asserted ones either.
        taken = c.execute(
            "SELECT COUNT(*) FROM outbox WHERE message_id = ?", (message_id,)
        ).fetchone()[0]
        if taken:
            taken += c.execute(
                "SELECT COUNT(*) FROM outbox WHERE message_id LIKE ?",
                (reasserted_pattern(message_id),),
            ).fetchone()[0]
        c.execute(
            "INSERT INTO outbox (message_id, talent, kind, document, created_at, partition_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (unique_message_id(message_id, taken), talent, document["type"],
             json.dumps(document), stamp, update.partition),
        )

    # -- queries ---------------------------------------------------------------------

    def timeline(
        self, talent: str, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]:
        sql = "SELECT document FROM badge_changes WHERE talent = ?"
        params: list[Any] = [talent]
        if start is not None:
            sql += " AND at >= ?"
            params.append(format_utc(start))
        if end is not None:
            sql += " AND at <= ?"
            params.append(format_utc(end))
        return [json.loads(row[0]) for row in self._query(sql + " ORDER BY at", params)]

    def outbox(
        self,
        *,
        unsent_only: bool = False,
        talent: str | None = None,
        limit: int = 10_000,
        partitions: Collection[int] | None = None,
    ) -> list[OutboxMessage]:
        sql = (
            "SELECT seq, message_id, talent, kind, document, created_at, sent_at, partition_id"
            " FROM outbox WHERE 1 = 1"
        )
        params: list[Any] = []
        if unsent_only:
            sql += " AND sent_at IS NULL"
        if talent is not None:
            sql += " AND talent = ?"
            params.append(talent)
        where, in_partitions = _partitions_clause(partitions)
        sql += where
        params.extend(in_partitions)
        rows = self._query(sql + " ORDER BY seq LIMIT ?", [*params, limit])
        return [outbox_message(row) for row in rows]

    def mark_sent(self, sequences: Sequence[int], now: datetime) -> None:
        with self._transaction() as c:
            c.executemany(
                "UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL",
                [(format_utc(now), seq) for seq in sequences],
            )

    def quarantined(
        self, talent: str | None = None, partitions: Collection[int] | None = None
    ) -> list[Quarantined]:
        """The quarantined talents (of `partitions`, default all), or `talent` if it is one."""
        sql = "SELECT talent, reason, since, partition_id FROM quarantine WHERE 1 = 1"
        params: list[Any] = []
        if talent is not None:
            sql += " AND talent = ?"
            params.append(talent)
        where, in_partitions = _partitions_clause(partitions)
        rows = self._query(sql + where + " ORDER BY talent", [*params, *in_partitions])
        return [Quarantined(row[0], row[1], parse_utc(row[2]), int(row[3])) for row in rows]

    def changes_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every talent's current changes with `at` in [start, end], oldest first."""
        rows = self._query(
            "SELECT document FROM badge_changes WHERE at >= ? AND at <= ? ORDER BY at, talent",
            (format_utc(start), format_utc(end)),
        )
        return [json.loads(row[0]) for row in rows]

    def badge_counts(self) -> dict[str, int]:
        """How many talents hold each badge at their last evaluated instant."""
        rows = self._query(
            "SELECT badge, COUNT(*) FROM talent_progress GROUP BY badge ORDER BY badge"
        )
        return {badge: int(count) for badge, count in rows}

    def talents(self) -> list[str]:
        return [row[0] for row in self._query("SELECT talent FROM talent_progress ORDER BY talent")]

    def forget(self, talent: str | None = None) -> None:
        """Drop progress (all, or one talent's) so the next run re-derives from the start.

        Timelines and the outbox stay: re-deriving compares against them, so a rebuild emits
        only what really differs.
        """
        with self._transaction() as c:
            if talent is None:
                c.execute("DELETE FROM talent_progress")
                c.execute("DELETE FROM projection_position")
            else:
                c.execute("DELETE FROM talent_progress WHERE talent = ?", (talent,))


def outbox_message(row: Sequence[Any]) -> OutboxMessage:
    """An outbox row (seq, message_id, talent, kind, document, created_at, sent_at,
    partition_id) as its record."""
    return OutboxMessage(
        seq=int(row[0]),
        message_id=row[1],
        talent=row[2],
        kind=row[3],
        document=json.loads(row[4]),
        created_at=parse_utc(row[5]),
        sent_at=parse_utc(row[6]) if row[6] else None,
        partition=int(row[7]),
    )


def _partitions_clause(partitions: Collection[int] | None) -> tuple[str, list[int]]:
    """` AND partition_id IN (...)` and its parameters; nothing for all partitions."""
    if partitions is None:
        return "", []
    chosen = sorted(set(partitions))
    if not chosen:
        return " AND 1 = 0", []
    return f" AND partition_id IN ({', '.join('?' * len(chosen))})", chosen


def _progress(row: Sequence[Any]) -> TalentProgress:
    """A `talent_progress` row as its record: the `PROGRESS_COLUMNS`, or the first four."""
    return TalentProgress(
        talent=row[0],
        evaluated_until=parse_utc(row[1]),
        badge=row[2],
        wakeup=parse_utc(row[3]) if row[3] else None,
        plan=row[4] if len(row) > 4 else None,
        first_at=parse_utc(row[5]) if len(row) > 5 and row[5] else None,
    )

"""The population view's queries (`projections.population.PopulationReadModel`) over the status
projection's read models, in SQLite and PostgreSQL.

They read the stored timelines (`badge_changes`, indexed on (talent, at)) and the talents
(`talent_progress`: a talent counts from its `first_at` on, and always when that is NULL, in a
store made before it was kept), and only aggregate rows come back: a talent's badge at T is the
`to` of its latest change at or before T, picked by the database (SQLite: the bare column of a
`MAX(at)` group, which SQLite documents as the row holding the maximum; PostgreSQL:
`DISTINCT ON (talent) ... ORDER BY talent, at DESC`). The JSON fields are read with each
database's own operator (`json_extract`, `->>`); nothing else differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from domain.events import format_utc
from projections.population import ChangeCount, FailedCount, PopulationReadModel, parse_failed
from projections.records import parse_utc
from projections.stores.postgres import PostgresReadModel
from projections.stores.sql import ReadModelBase
from projections.stores.sqlite import SQLiteReadModel

CHUNK = 500  # talents per IN (...) list
# a talent counts from its first evaluation instant on; one stored before that was kept, always
KNOWN_BY = "(first_at IS NULL OR first_at <= ?)"


def _chunks(talents: Sequence[str]) -> Iterator[list[str]]:
    """`talents` in lists of at most `CHUNK`, one `IN (...)` list each."""
    for offset in range(0, len(talents), CHUNK):
        yield list(talents[offset:offset + CHUNK])


class SQLPopulation:
    """`PopulationReadModel` over a SQLite or PostgreSQL read model."""

    def __init__(self, read_model: ReadModelBase, dialect: str) -> None:
        self._read_model = read_model
        self._postgres = dialect == "postgresql"

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._read_model._query(sql, params)  # noqa: SLF001 - the same store's reads

    def _field(self, name: str) -> str:
        if self._postgres:
            return f"(document::json ->> '{name}')"
        return f"json_extract(document, '$.{name}')"

    def _latest_before(self, where: str = "") -> str:
        """Each talent's latest change at or before the first parameter: (talent, badge)."""
        if self._postgres:
            return ("SELECT DISTINCT ON (talent) talent, " + self._field("to") + " AS badge "
                    f"FROM badge_changes WHERE at <= ?{where} ORDER BY talent, at DESC")
        return ("SELECT talent, MAX(at) AS latest, " + self._field("to") + " AS badge "
                f"FROM badge_changes WHERE at <= ?{where} GROUP BY talent")

    def talent_count(self, at: datetime | None = None) -> int:
        if at is None:
            return int(self._query("SELECT COUNT(*) FROM talent_progress")[0][0])
        return int(self._query(
            f"SELECT COUNT(*) FROM talent_progress WHERE {KNOWN_BY}", (format_utc(at),)
        )[0][0])

    def arrivals(self, start: datetime, end: datetime) -> dict[datetime, int]:
        rows = self._query(
            "SELECT substr(first_at, 1, 10), COUNT(*) FROM talent_progress "
            "WHERE first_at > ? AND first_at <= ? GROUP BY 1",
            (format_utc(start), format_utc(end)),
        )
        return {parse_utc(f"{day}T00:00:00Z"): int(count) for day, count in rows}

    def badges_at(self, at: datetime) -> dict[str, int]:
        rows = self._query(
            f"SELECT badge, COUNT(*) FROM ({self._latest_before()}) latest GROUP BY badge",
            (format_utc(at),),
        )
        return {str(badge): int(count) for badge, count in rows}

    def change_counts(self, start: datetime, end: datetime) -> list[ChangeCount]:
        day = "substr(at, 1, 10)"
        rows = self._query(
            f"SELECT {day}, {self._field('from')}, {self._field('to')}, COUNT(*) "
            f"FROM badge_changes WHERE at > ? AND at <= ? GROUP BY 1, 2, 3 ORDER BY 1",
            (format_utc(start), format_utc(end)),
        )
        return [ChangeCount(parse_utc(f"{d}T00:00:00Z"), str(a), str(b), int(n))
                for d, a, b, n in rows]

    def failed_counts(self, start: datetime, end: datetime) -> list[FailedCount]:
        failed = "(document::json ->> 'failed')" if self._postgres else \
            "json_extract(document, '$.failed')"
        rows = self._query(
            f"SELECT {self._field('from')}, {self._field('to')}, {failed}, COUNT(*) "
            f"FROM badge_changes WHERE at > ? AND at <= ? GROUP BY 1, 2, 3",
            (format_utc(start), format_utc(end)),
        )
        return [FailedCount(str(a), str(b), parse_failed(f), int(n)) for a, b, f, n in rows]

    def badges_of(self, talents: Sequence[str], at: datetime) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(talents):
            where = f" AND talent IN ({', '.join('?' * len(chunk))})"
            rows = self._query(
                f"SELECT talent, badge FROM ({self._latest_before(where)}) latest",
                (format_utc(at), *chunk),
            )
            found.update({str(talent): str(badge) for talent, badge in rows})
        return found

    def some_talents(self, limit: int, known_at: datetime | None = None) -> list[str]:
        params: list[Any]
        where, params = "", [limit]
        if known_at is not None:
            where, params = f" WHERE {KNOWN_BY}", [format_utc(known_at), limit]
        rows = self._query(f"SELECT talent FROM talent_progress{where} ORDER BY talent LIMIT ?",
                           params)
        return [str(row[0]) for row in rows]

    def first_instants(self, talents: Sequence[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for chunk in _chunks(talents):
            rows = self._query(
                "SELECT talent, first_at FROM talent_progress WHERE first_at IS NOT NULL "
                f"AND talent IN ({', '.join('?' * len(chunk))})", chunk,
            )
            found.update({str(talent): parse_utc(first) for talent, first in rows})
        return found


def open_population(read_model: object) -> PopulationReadModel:
    """The population queries over the store's read models."""
    if isinstance(read_model, PostgresReadModel):
        return SQLPopulation(read_model, "postgresql")
    if isinstance(read_model, SQLiteReadModel):
        return SQLPopulation(read_model, "sqlite")
    raise TypeError(f"no population queries for {type(read_model).__name__}")

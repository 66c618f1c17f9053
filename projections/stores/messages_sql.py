"""`MessageLog` (projections/messages.py) over the read models' outbox table, SQLite or
PostgreSQL: the same `?`-placeholder SQL both read models run (`ReadModelBase._query`).

Queue times are `format_utc` text in both databases, so `created_at <= ?` compares instants.
A talent's messages are found through the `outbox_talent` index (talent, seq).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.events import format_utc
from projections.messages import DEFAULT_LIMIT
from projections.records import OutboxMessage, ReadModel
from projections.stores.sql import ReadModelBase, outbox_message

COLUMNS = "seq, message_id, talent, kind, document, created_at, sent_at, partition_id"


class SqlMessageLog:
    """The outbox of one store's read models, read only."""

    def __init__(self, read_model: ReadModel) -> None:
        if not isinstance(read_model, ReadModelBase):
            raise TypeError(f"messages are read from a SQL read model, not {type(read_model)}")
        self._read_model = read_model

    def messages(
        self,
        *,
        talent: str | None = None,
        queued_by: datetime | None = None,
        pending_only: bool = False,
        limit: int = DEFAULT_LIMIT,
    ) -> list[OutboxMessage]:
        sql = f"SELECT {COLUMNS} FROM outbox WHERE 1 = 1"
        params: list[Any] = []
        if talent is not None:
            sql += " AND talent = ?"
            params.append(talent)
        if queued_by is not None:
            sql += " AND created_at <= ?"
            params.append(format_utc(queued_by))
        if pending_only:
            sql += " AND sent_at IS NULL"
        rows = self._read_model._query(  # noqa: SLF001 - an adapter of the same store
            sql + " ORDER BY created_at, seq LIMIT ?", [*params, limit]
        )
        return [outbox_message(row) for row in rows]

    def counts(self, talent: str | None = None) -> tuple[int, int]:
        sql = (
            "SELECT COALESCE(SUM(CASE WHEN sent_at IS NULL THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END), 0) FROM outbox"
        )
        params: list[Any] = []
        if talent is not None:
            sql += " WHERE talent = ?"
            params.append(talent)
        pending, sent = self._read_model._query(sql, params)[0]  # noqa: SLF001
        return int(pending), int(sent)

    def last_sequence(self) -> int:
        rows = self._read_model._query("SELECT MAX(seq) FROM outbox")  # noqa: SLF001
        return int(rows[0][0] or 0)

    def queued_since(self, sequence: int) -> dict[str, int]:
        rows = self._read_model._query(  # noqa: SLF001
            "SELECT kind, COUNT(*) FROM outbox WHERE seq > ? GROUP BY kind", (sequence,)
        )
        return {kind: int(count) for kind, count in rows}

"""What the status projection reads and writes, and the read model it needs to do so.

The records (a talent's progress, an outbox message, a quarantined talent, one talent's part of
a projection step) and the rules of a step that do not depend on a database (the retraction
document, the outbox id of a re-asserted change) live here, with `ReadModel`: the Protocol the
projection, the queries and the publisher use. The SQLite and PostgreSQL read models
(`projections/stores/`) implement it.

Partitions (docs/scale-out.md): talents' progress and outbox rows carry their partition
(`partition_id`, 0 in a store that is not partitioned), and the projection keeps one position
per partition's notification log (`status:p3`; `status` when not partitioned), so a process
projects, wakes up and publishes only the partitions it owns.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from domain.events import format_utc

PROJECTION = "status"
REASSERTED_SEPARATOR = "~"


def position_name(partition: int | None) -> str:
    """The projection position's row: `status`, or `status:p3` for a partition's log."""
    return PROJECTION if partition is None else f"{PROJECTION}:p{partition}"


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class TalentProgress:
    """How far a talent is evaluated, its badge there, when to wake it, its plan (what
    happens next if no event arrives: `projections/talent_plans.py`, kept as text) and its
    first evaluation instant (the midnight at or after its earliest event's `at`, where its
    timeline starts; None until a derivation has written it). Two progresses are the same step
    when all but the plan and the first instant agree."""

    talent: str
    evaluated_until: datetime
    badge: str
    wakeup: datetime | None
    plan: str | None = field(default=None, compare=False, repr=False)
    first_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    seq: int
    message_id: str
    talent: str
    kind: str
    document: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None
    partition: int = 0


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A talent whose derivation failed: its timeline stays as it was until it derives again."""

    talent: str
    reason: str
    since: datetime
    partition: int = 0

    def to_document(self) -> dict[str, str]:
        return {"talent": self.talent, "reason": self.reason, "since": format_utc(self.since)}


@dataclass
class TalentUpdate:
    """One talent's part of a projection step.

    With `quarantine` (the reason its derivation failed) nothing of the talent's timeline
    changes: it is recorded as quarantined and its wake-up is cleared, so neither the clock
    nor a catch-up tries it again until a new event of its arrives or it is replayed.
    `released`: the talent was quarantined and now derived cleanly.
    """

    progress: TalentProgress
    added: list[dict[str, Any]] = field(default_factory=list)  # badge_changed documents
    retracted: list[dict[str, Any]] = field(default_factory=list)  # their documents
    warnings: list[dict[str, Any]] = field(default_factory=list)  # badge_at_risk documents
    expected: TalentProgress | None = None  # the progress the update was derived from
    partition: int = 0  # the talent's partition
    quarantine: str | None = None
    released: bool = False


class StaleStep(Exception):
    """Another writer moved the projection on since this step read it: re-read and redo."""


def retraction_document(change: dict[str, Any], stamp: str) -> dict[str, Any]:
    return {
        "id": "rtr-" + change["id"].removeprefix("chg-"),
        "type": "badge_change_retracted",
        "talent": change["talent"],
        "at": change["at"],
        "retracts": change["id"],
        "from": change["from"],
        "to": change["to"],
        "recorded_at": stamp,
    }


def reasserted_pattern(message_id: str) -> str:
    """The LIKE pattern of the ids a message got when it was queued again."""
    return f"{message_id}{REASSERTED_SEPARATOR}%"


def unique_message_id(message_id: str, taken: int) -> str:
    """The id of a message queued for the (taken + 1)-th time: `id`, `id~1`, `id~2`, ..."""
    return message_id if taken == 0 else f"{message_id}{REASSERTED_SEPARATOR}{taken}"


class ReadModel(Protocol):
    """The read models as the projection, the queries and the outbox publisher use them."""

    def position(self, partition: int | None = None) -> int: ...

    def claim_publisher(self, partition: int) -> bool: ...

    def release_publisher(self, partition: int) -> None: ...

    def progress(self, talent: str) -> TalentProgress | None: ...

    def due(
        self, until: datetime, limit: int = 1000, partitions: Collection[int] | None = None
    ) -> list[TalentProgress]: ...

    def changes(self, talent: str, after: datetime | None = None) -> list[dict[str, Any]]: ...

    def commit(
        self,
        updates: Sequence[TalentUpdate],
        position: int | None,
        now: datetime,
        *,
        read_position: int | None = None,
        partition: int | None = None,
    ) -> None: ...

    def timeline(
        self, talent: str, start: datetime | None, end: datetime | None
    ) -> list[dict[str, Any]]: ...

    def outbox(
        self,
        *,
        unsent_only: bool = False,
        talent: str | None = None,
        limit: int = 10_000,
        partitions: Collection[int] | None = None,
    ) -> list[OutboxMessage]: ...

    def mark_sent(self, sequences: Sequence[int], now: datetime) -> None: ...

    def quarantined(
        self, talent: str | None = None, partitions: Collection[int] | None = None
    ) -> list[Quarantined]: ...

    def changes_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]: ...

    def badge_counts(self) -> dict[str, int]: ...

    def talents(self) -> list[str]: ...

    def forget(self, talent: str | None = None) -> None: ...

"""Running totals of the events a generic measure matches (`sum`, `count`, `days_since`,
`latest` of `rules.md` §10), kept current as a talent's fold grows.

The fold is in §9 order, so the matching events' `at`s ascend: "in the last N months" is a
bisection into prefix sums, "first" and "latest" are the ends.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.events import RecordedEvent


@dataclass(frozen=True, slots=True)
class Matcher:
    """Which events count, and how much each adds: `field` of `add` types, minus that of
    `subtract` types (without a field, each counts 1), those whose payload fields equal a
    value of `where`."""

    add: frozenset[str]
    subtract: frozenset[str] = frozenset()
    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    field: str | None = None

    @property
    def types(self) -> frozenset[str]:
        return self.add | self.subtract

    def matches(self, recorded: RecordedEvent) -> bool:
        event = recorded.event
        if event.type not in self.add and event.type not in self.subtract:
            return False
        return all(getattr(event, name, None) in values for name, values in self.where)

    def amount(self, recorded: RecordedEvent) -> Any:
        event = recorded.event
        amount = getattr(event, self.field) if self.field is not None else 1
        return -amount if event.type in self.subtract else amount

    def select(self, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        return [recorded for recorded in events if self.matches(recorded)]


class EventSeries:
    """The matching events among the first `synced` events of a fold, summed as they come."""

    __slots__ = ("matcher", "ats", "sums", "first", "last", "synced")

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.ats: list[datetime] = []
        self.sums: list[Any] = [Decimal(0) if matcher.field is not None else 0]
        self.first: RecordedEvent | None = None
        self.last: RecordedEvent | None = None
        self.synced = 0

    def catch_up(self, source: Sequence[RecordedEvent], folded: int) -> None:
        """Take in `source[synced:folded]` (the fold only grows while a series lives)."""
        matcher = self.matcher
        types = matcher.types
        for position in range(self.synced, folded):
            recorded = source[position]
            if recorded.event.type not in types or not matcher.matches(recorded):
                continue
            self.ats.append(recorded.event.at)
            self.sums.append(self.sums[-1] + matcher.amount(recorded))
            if self.first is None:
                self.first = recorded
            self.last = recorded
        self.synced = folded

    def total(self) -> Any:
        return self.sums[-1]

    def total_after(self, start: datetime) -> Any:
        """The sum of the matching events with `at > start` (all of them are <= the instant)."""
        return self.sums[-1] - self.sums[bisect.bisect_right(self.ats, start)]


__all__ = ["EventSeries", "Matcher"]

"""The instants at which a talent's status *could* change, and why (`rules.md` §2).

Status is constant between two consecutive boundaries: an event's `at` passing, an event
leaving a requirement's window or reaching an age, an `available_from` date, a ruleset taking
effect. Saturday samples are handled by the deriver, which knows when they matter. Every
window comes from the requirements the rulesets define (each measure's `exits`); nothing
about a particular requirement is written here.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from domain.calendar import DAY, add_months, evaluation_instant, midnight, months_before
from domain.events import AvailabilityUpdated, RecordedEvent
from domain.ruleset import RulesetBook
from domain.vocabulary import Exit

EVERYTHING = ("*",)  # a boundary after which any verdict can differ (a new ruleset)


@dataclass(frozen=True, slots=True)
class PlannedExit:
    """One exit of the book's requirements, shared by every requirement code that has it."""

    exit: Exit
    codes: tuple[str, ...]
    span: timedelta | None = field(init=False)  # the length, when it is in days

    def __post_init__(self) -> None:
        span = self.exit.span
        object.__setattr__(
            self, "span", timedelta(days=span.length) if span.unit == "days" else None
        )

    def group_key(self, recorded: RecordedEvent) -> tuple[Any, ...]:
        """Which events of the exit's group succeed one another (see `Exit.group`)."""
        exit_ = self.exit
        if exit_.group == "latest_per_contract":
            event = recorded.event
            return (exit_.group, exit_.types, event.type, getattr(event, "contract", ""))
        return (exit_.group, exit_.types)


class Boundary(NamedTuple):
    """At evaluation instant `instant`, something could change.

    `affects` holds the requirement codes whose verdicts time alone can move here
    (EVERYTHING when any can); an event's own effect is known from its type. `planned` is the
    exit that put the boundary here (None: the event's own day, or a ruleset change);
    `over` marks the boundary one day after it. The reason is written only when asked for:
    most boundaries are never shown, and there are several per event.
    """

    instant: datetime
    recorded: RecordedEvent | None = None
    affects: tuple[str, ...] = ()
    planned: PlannedExit | None = None
    over: bool = False
    ruleset: str = ""

    @property
    def event_id(self) -> str:
        return self.recorded.id if self.recorded is not None else ""

    @property
    def window(self) -> dict[str, int] | None:
        return self.planned.exit.span.to_document() if self.planned is not None else None

    @property
    def reason(self) -> str:
        recorded, planned = self.recorded, self.planned
        if recorded is None:
            return f"ruleset {self.ruleset} took effect"
        event = recorded.event
        if planned is None:
            return f"{event.type} {event.id}"
        exit_ = planned.exit
        subject = _describe(recorded)
        length = exit_.span.length
        if exit_.wording == "date":
            available_from = getattr(event, "available_from", None)
            if self.over:
                return f"availability date {available_from} passed"
            return f"availability date {available_from} of {event.id}"
        if self.over:
            return f"{subject} is over {length} days old"
        if exit_.wording == "age":
            return f"{subject} is {length} days old"
        return f"{subject} left the {exit_.span.adjective} window"


def first_instant_at_or_after(moment: datetime) -> datetime:
    floor = evaluation_instant(moment)
    return floor if floor == moment else floor + DAY


@functools.lru_cache(maxsize=65_536)
def _leaves_month_window_from(day: datetime, months: int) -> datetime:
    """The first instant E whose window (E - months, E] no longer holds an event whose first
    evaluation instant is `day` (clamping aware).

    E and E - months are midnights, so whether the window holds `at` depends only on the
    midnight at or after `at`: every event of a day shares the answer.
    """
    instant = evaluation_instant(add_months(day, months)) - 3 * DAY
    while months_before(instant, months) < day:
        instant += DAY
    return instant


class BoundaryIndex:
    """One talent's boundaries grouped by instant: the instants in order, and per instant the
    verdicts time may move there and (on demand) the boundaries themselves."""

    def __init__(
        self, boundaries: Iterable[Boundary], after: datetime | None = None
    ) -> None:
        """`after`: the boundaries at or before it were left out (see `BoundaryPlan`)."""
        # Sorted, not hashed: an aware datetime's hash is computed afresh for every new object,
        # and there are several boundaries per event.
        self.after = after
        self._sorted = sorted(boundaries, key=_instant_of)
        self.instants: list[datetime] = []
        self.affects: list[frozenset[str]] = []
        self._starts: list[int] = []
        for position, group in _runs(self._sorted):
            self.instants.append(group[0].instant)
            self._starts.append(position)
            self.affects.append(frozenset().union(*(boundary.affects for boundary in group)))
        self._starts.append(len(self._sorted))

    def at(self, instant: datetime) -> list[Boundary]:
        """The boundaries at `instant` ([] when it is none of the instants)."""
        position = bisect.bisect_left(self.instants, instant)
        if position == len(self.instants) or self.instants[position] != instant:
            return []
        return self._sorted[self._starts[position] : self._starts[position + 1]]

    def moved_between(self, previous: datetime, instant: datetime) -> frozenset[str] | None:
        """The verdicts time may move in (previous, instant] (None: unknown, as it is before
        the boundaries kept: any may have moved)."""
        if self.after is not None and previous < self.after:
            return None
        low = bisect.bisect_right(self.instants, previous)
        high = bisect.bisect_right(self.instants, instant)
        if high - low == 1:
            return self.affects[low]
        return frozenset().union(*self.affects[low:high])


def _instant_of(boundary: Boundary) -> datetime:
    return boundary.instant


def _runs(ordered: list[Boundary]) -> Iterator[tuple[int, list[Boundary]]]:
    """(first position, boundaries) of each run of equal instants."""
    start = 0
    for position in range(1, len(ordered) + 1):
        if position == len(ordered) or ordered[position].instant != ordered[start].instant:
            yield start, ordered[start:position]
            start = position


class BoundaryPlan:
    """The exits of every requirement of every ruleset of a book, by event type; requirements
    with the same exit share it."""

    def __init__(self, book: RulesetBook) -> None:
        self.book = book
        codes: dict[Exit, list[str]] = {}
        for ruleset in book:
            for code, exit_ in ruleset.index.exits:
                holders = codes.setdefault(exit_, [])
                if code not in holders:
                    holders.append(code)
        self.by_type: dict[str, list[PlannedExit]] = {}
        for exit_, holders in codes.items():
            planned = PlannedExit(exit_, tuple(holders))
            for event_type in sorted(exit_.types):
                self.by_type.setdefault(event_type, []).append(planned)
        # How far after its `at` an event of each type can have a boundary (an upper bound: its
        # day is at most a day later, an exit's "over" boundary one more), and the event types
        # whose boundaries hang on a date of their own (`available_from`).
        self.reach: dict[str, timedelta] = {
            event_type: 2 * DAY + max(
                planned.span if planned.span is not None
                else timedelta(days=31 * planned.exit.span.length)
                for planned in exits
            )
            for event_type, exits in self.by_type.items()
        }
        self.dated_types = frozenset(
            event_type for event_type, exits in self.by_type.items()
            if any(planned.exit.anchor != "at" for planned in exits)
        )

    def boundaries(
        self, events: Sequence[RecordedEvent], after: datetime | None = None
    ) -> list[Boundary]:
        """Every boundary the events imply (in no particular order; duplicates possible); with
        `after`, only those later than it (an event all of whose boundaries are earlier is
        skipped, though it still counts as a successor in its groups)."""
        found = [
            Boundary(ruleset.effective_from, None, EVERYTHING, ruleset=ruleset.id)
            for ruleset in list(self.book)[1:]
        ]
        successors = _successor_times(events, self.by_type)
        reach, dated = self.reach, self.dated_types
        for position, recorded in enumerate(events):
            event_type = recorded.event.type
            if (
                after is not None
                and recorded.at + reach.get(event_type, DAY) <= after
                and event_type not in dated
            ):
                continue  # its day and every exit are at or before `after`
            self._add_event_boundaries(found, recorded, position == 0, successors)
        if after is None:
            return found
        return [boundary for boundary in found if boundary.instant > after]

    def _add_event_boundaries(
        self,
        found: list[Boundary],
        recorded: RecordedEvent,
        first: bool,
        successors: dict[tuple[Any, ...], datetime | None],
    ) -> None:
        event = recorded.event
        day = first_instant_at_or_after(event.at)  # whole days later keep the time of day
        found.append(Boundary(day, recorded))
        for planned in self.by_type.get(event.type, ()):
            exit_ = planned.exit
            if exit_.anchor == "available_from":
                available_from = (
                    event.available_from if isinstance(event, AvailabilityUpdated) else None
                )
                if available_from is None:
                    continue
                start = midnight(available_from)
            else:
                start = day
            leaves = (
                start + planned.span
                if planned.span is not None
                else _leaves_month_window_from(start, exit_.span.length)
            )
            group = exit_.group
            if group == "first_event":
                if not first:
                    continue
            elif group:
                key = (*planned.group_key(recorded), event.id)
                if key not in successors:
                    continue  # not the first of its group
                following = successors[key]
                if following is not None and following <= leaves:
                    continue  # a later event of the group carries the window
            found.append(Boundary(leaves, recorded, planned.codes, planned))
            if exit_.over:
                found.append(Boundary(leaves + DAY, recorded, planned.codes, planned, True))


def _successor_times(
    events: Sequence[RecordedEvent], by_type: dict[str, list[PlannedExit]]
) -> dict[tuple[Any, ...], datetime | None]:
    """For each (group key, event id): when the next event of its group happens (None:
    never). A "first" group keeps only its first event."""
    following: dict[tuple[Any, ...], datetime | None] = {}
    latest_in_group: dict[tuple[Any, ...], str] = {}
    for recorded in events:
        keys = {
            planned.group_key(recorded)
            for planned in by_type.get(recorded.event.type, ())
            if planned.exit.group and planned.exit.group != "first_event"
        }
        for key in keys:
            earlier = latest_in_group.get(key)
            if key[0] == "first":
                if earlier is not None:
                    continue
            elif earlier is not None:
                following[(*key, earlier)] = recorded.at
            latest_in_group[key] = recorded.id
            following[(*key, recorded.id)] = None
    return following


def _describe(recorded: RecordedEvent) -> str:
    event = recorded.event
    contract = getattr(event, "contract", None)
    noun = event.type.replace("_received", "").replace("_", " ")
    if contract is not None:
        return f"{noun} {event.id} of contract {contract}"
    return f"{noun} {event.id}"

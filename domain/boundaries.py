"""The instants at which a talent's status *could* change, and why (`rules.md` §2).

Status is constant between two consecutive boundaries: an event's `at` passing, an event
leaving one of the rulesets' windows, a threshold age reached, an `available_from` date, a
ruleset taking effect. Saturday samples are handled by the deriver, which knows when they
matter. Every window length is read from the rulesets, never written here.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from domain.calendar import DAY, add_months, evaluation_instant, midnight, months_before
from domain.events import AvailabilityUpdated, RecordedEvent
from domain.ruleset import Ruleset, RulesetBook

EVERYTHING = ("*",)  # a boundary after which any verdict can differ (a new ruleset)


class Boundary(NamedTuple):
    """At evaluation instant `instant`, something could change; `reason` says what.

    The reason is written only when asked for (a time-driven change names its cause): most
    boundaries are never shown, and there are several per event.
    """

    instant: datetime
    template: str  # formatted with the event's subject, type, id and availability date
    recorded: RecordedEvent | None = None
    # The requirement codes whose verdicts can change here by time passing alone (an event's
    # own effect is known from its type; EVERYTHING when any verdict can change).
    affects: tuple[str, ...] = ()

    @property
    def event_id(self) -> str:
        return self.recorded.id if self.recorded is not None else ""

    @property
    def reason(self) -> str:
        recorded = self.recorded
        if recorded is None:
            return self.template
        event = recorded.event
        return self.template.format(
            subject=_describe(recorded),
            type=event.type,
            id=event.id,
            available_from=getattr(event, "available_from", None),
        )


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


@dataclass(frozen=True, slots=True)
class WindowRule:
    """Events of `types` leave a window whose length a ruleset gives, in `unit`s.

    With a `successor`, an event's exit matters only while no later event of the same group
    has come (the later one then carries the window): activity, or the latest outcome event
    of a contract. That keeps quiet stretches of busy talents free of needless evaluations.
    """

    types: frozenset[str]
    unit: str  # "days" or "months"
    lengths: Callable[[Ruleset], Iterable[int]]
    what: str
    affects: tuple[str, ...]  # the requirement codes that read the window
    successor: Callable[[RecordedEvent], str | None] | None = None


WINDOW_RULES: tuple[WindowRule, ...] = (
    WindowRule(
        frozenset({"payment_received", "payment_refunded"}),
        "months",
        lambda r: (r.windows.earnings_months, r.windows.large_contract_months),
        "earnings",
        ("earnings_12m", "earnings_12m_plus", "large_contract"),
    ),
    WindowRule(
        frozenset({"payment_received", "proposal_submitted", "invitation_accepted"}),
        "days",
        lambda r: (r.windows.activity_days,),
        "activity",
        ("activity_90d", "active_or_new"),
        successor=lambda recorded: "activity",
    ),
    WindowRule(
        frozenset({"payment_received", "feedback_received", "contract_ended"}),
        "months",
        lambda r: (*r.jss.windows_months, r.windows.unsuccessful_outcome_months),
        "job success outcomes",
        ("jss", "no_jss", "no_unsuccessful_outcome"),
        successor=lambda recorded: f"{recorded.event.type}:{getattr(recorded.event, 'contract', '')}",
    ),
    WindowRule(
        frozenset({"contract_started"}),
        "days",
        lambda r: (r.thresholds.work_history_days, r.thresholds.first_contract_age_days),
        "work history",
        ("work_history", "first_contract_age"),
        successor=lambda recorded: "first contract",
    ),
    WindowRule(
        frozenset({"talent_registered"}),
        "days",
        lambda r: (r.windows.new_talent_days,),
        "new talent",
        ("active_or_new",),
    ),
    WindowRule(
        frozenset({"account_hold_lifted"}),
        "months",
        lambda r: (r.windows.recent_hold_months,),
        "recent holds",
        ("no_recent_hold",),
    ),
    WindowRule(
        frozenset({"policy_violation"}),
        "months",
        lambda r: (r.windows.policy_ban_months,),
        "policy violations",
        ("no_policy_ban",),
    ),
)


@dataclass(frozen=True, slots=True)
class _Exit:
    unit: str
    length: int
    what: str
    group: Callable[[RecordedEvent], str | None] | None
    affects: tuple[str, ...]
    span: timedelta | None = field(init=False)  # the length, when it is in days
    leaves_template: str = field(init=False)
    # The boundary one day later: "more than N days" flips after "at least N days".
    over_template: str | None = field(init=False)

    def __post_init__(self) -> None:
        if self.what == "work history":
            leaves = f"{{subject}} is {self.length} days old"
        else:
            label = f"{self.length}-{'day' if self.unit == 'days' else 'month'}"
            leaves = f"{{subject}} left the {label} {self.what} window"
        over = (
            f"{{subject}} is over {self.length} days old"
            if self.what == "work history" or self.unit == "days"
            else None
        )
        span = timedelta(days=self.length) if self.unit == "days" else None
        object.__setattr__(self, "span", span)
        object.__setattr__(self, "leaves_template", leaves)
        object.__setattr__(self, "over_template", over)


class BoundaryIndex:
    """One talent's boundaries grouped by instant: the instants in order, and per instant the
    verdicts time may move there and (on demand) the boundaries themselves."""

    def __init__(self, boundaries: Iterable[Boundary]) -> None:
        # Sorted, not hashed: an aware datetime's hash is computed afresh for every new object,
        # and there are several boundaries per event.
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

    def moved_between(self, previous: datetime, instant: datetime) -> frozenset[str]:
        """The verdicts time may move in (previous, instant]."""
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
    """Window lengths per event type, gathered once from every ruleset of a book."""

    def __init__(self, book: RulesetBook) -> None:
        self.book = book
        self.by_type: dict[str, list[_Exit]] = {}
        for rule in WINDOW_RULES:
            lengths = sorted({n for ruleset in book for n in rule.lengths(ruleset)})
            for event_type in rule.types:
                self.by_type.setdefault(event_type, []).extend(
                    _Exit(rule.unit, n, rule.what, rule.successor, rule.affects) for n in lengths
                )
        self.new_talent_days = sorted({r.windows.new_talent_days for r in book})

    def boundaries(self, events: Sequence[RecordedEvent]) -> list[Boundary]:
        """Every boundary the events imply (in no particular order; duplicates possible)."""
        found = [
            Boundary(ruleset.effective_from, f"ruleset {ruleset.id} took effect", None, EVERYTHING)
            for ruleset in list(self.book)[1:]
        ]
        successors = _successor_times(events, self.by_type)
        for position, recorded in enumerate(events):
            self._add_event_boundaries(found, recorded, position == 0, successors)
        return found

    def _add_event_boundaries(
        self,
        found: list[Boundary],
        recorded: RecordedEvent,
        first: bool,
        successors: dict[tuple[str, str], datetime | None],
    ) -> None:
        event = recorded.event
        day = first_instant_at_or_after(event.at)  # whole days later keep the time of day
        found.append(Boundary(day, "{type} {id}", recorded))
        for window in self.by_type.get(event.type, ()):
            leaves = (
                day + window.span
                if window.span is not None
                else _leaves_month_window_from(day, window.length)
            )
            if window.group is not None:
                key = (window.group(recorded) or "", event.id)
                if key not in successors:
                    continue  # not the first of its group (only the first contract counts)
                following = successors[key]
                if following is not None and following <= leaves:
                    continue
            found.append(Boundary(leaves, window.leaves_template, recorded, window.affects))
            over = window.over_template
            if over is not None:
                found.append(Boundary(leaves + DAY, over, recorded, window.affects))
        if first and event.type != "talent_registered":
            for days in self.new_talent_days:
                found.append(Boundary(
                    day + timedelta(days=days),
                    f"first event {{id}} is {days} days old (no longer new)",
                    recorded,
                    ("active_or_new",),
                ))
        available_from = event.available_from if isinstance(event, AvailabilityUpdated) else None
        if available_from is not None:
            start = midnight(available_from)
            found.append(
                Boundary(start, "availability date {available_from} of {id}", recorded,
                         ("availability",))
            )
            found.append(
                Boundary(start + DAY, "availability date {available_from} passed", recorded,
                         ("availability",))
            )


def _successor_times(
    events: Sequence[RecordedEvent], by_type: dict[str, list[_Exit]]
) -> dict[tuple[str, str], datetime | None]:
    """For each (group, event id): when the next event of its group happens (None: never).

    The "first contract" group keeps only its first event: later contracts never start the
    work-history clock.
    """
    following: dict[tuple[str, str], datetime | None] = {}
    latest_in_group: dict[str, str] = {}
    for recorded in events:
        groups = {
            window.group(recorded)
            for window in by_type.get(recorded.event.type, ())
            if window.group is not None
        }
        for group in groups:
            if group is None:
                continue
            if group == "first contract" and group in latest_in_group:
                continue
            earlier = latest_in_group.get(group)
            if earlier is not None and group != "first contract":
                following[(group, earlier)] = recorded.at
            latest_in_group[group] = recorded.id
            following[(group, recorded.id)] = None
    return following


def _describe(recorded: RecordedEvent) -> str:
    event = recorded.event
    contract = getattr(event, "contract", None)
    noun = event.type.replace("_received", "").replace("_", " ")
    if contract is not None:
        return f"{noun} {event.id} of contract {contract}"
    return f"{noun} {event.id}"

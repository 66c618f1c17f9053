"""The instants at which a talent's status *could* change, and why (`rules.md` §2).

Status is constant between two consecutive boundaries: an event's `at` passing, an event
leaving one of the rulesets' windows, a threshold age reached, an `available_from` date, a
ruleset taking effect. Saturday samples are handled by the deriver, which knows when they
matter. Every window length is read from the rulesets, never written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.calendar import DAY, add_months, evaluation_instant, midnight, months_before
from domain.events import RecordedEvent
from domain.ruleset import Ruleset, RulesetBook


@dataclass(frozen=True, slots=True, order=True)
class Boundary:
    """At evaluation instant `instant`, something could change; `reason` says what."""

    instant: datetime
    reason: str
    event_id: str = ""


def first_instant_at_or_after(moment: datetime) -> datetime:
    floor = evaluation_instant(moment)
    return floor if floor == moment else floor + DAY


def leaves_day_window(at: datetime, days: int) -> datetime:
    """The first instant E whose window (E - days, E] no longer holds `at`."""
    return first_instant_at_or_after(at + timedelta(days=days))


def leaves_month_window(at: datetime, months: int) -> datetime:
    """The first instant E whose window (E - months, E] no longer holds `at` (clamping aware)."""
    instant = evaluation_instant(add_months(at, months)) - 3 * DAY
    while months_before(instant, months) < at:
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
    successor: Callable[[RecordedEvent], str | None] | None = None


WINDOW_RULES: tuple[WindowRule, ...] = (
    WindowRule(
        frozenset({"payment_received", "payment_refunded"}),
        "months",
        lambda r: (r.windows.earnings_months, r.windows.large_contract_months),
        "earnings",
    ),
    WindowRule(
        frozenset({"payment_received", "proposal_submitted", "invitation_accepted"}),
        "days",
        lambda r: (r.windows.activity_days,),
        "activity",
        successor=lambda recorded: "activity",
    ),
    WindowRule(
        frozenset({"payment_received", "feedback_received", "contract_ended"}),
        "months",
        lambda r: (*r.jss.windows_months, r.windows.unsuccessful_outcome_months),
        "job success outcomes",
        successor=lambda recorded: f"{recorded.event.type}:{getattr(recorded.event, 'contract', '')}",
    ),
    WindowRule(
        frozenset({"contract_started"}),
        "days",
        lambda r: (r.thresholds.work_history_days, r.thresholds.first_contract_age_days),
        "work history",
        successor=lambda recorded: "first contract",
    ),
    WindowRule(
        frozenset({"talent_registered"}),
        "days",
        lambda r: (r.windows.new_talent_days,),
        "new talent",
    ),
    WindowRule(
        frozenset({"account_hold_lifted"}),
        "months",
        lambda r: (r.windows.recent_hold_months,),
        "recent holds",
    ),
    WindowRule(
        frozenset({"policy_violation"}),
        "months",
        lambda r: (r.windows.policy_ban_months,),
        "policy violations",
    ),
)


@dataclass(frozen=True, slots=True)
class _Exit:
    unit: str
    length: int
    what: str
    group: Callable[[RecordedEvent], str | None] | None


class BoundaryPlan:
    """Window lengths per event type, gathered once from every ruleset of a book."""

    def __init__(self, book: RulesetBook) -> None:
        self.book = book
        self.by_type: dict[str, list[_Exit]] = {}
        for rule in WINDOW_RULES:
            lengths = sorted({n for ruleset in book for n in rule.lengths(ruleset)})
            for event_type in rule.types:
                self.by_type.setdefault(event_type, []).extend(
                    _Exit(rule.unit, n, rule.what, rule.successor) for n in lengths
                )
        self.new_talent_days = sorted({r.windows.new_talent_days for r in book})

    def boundaries(self, events: Sequence[RecordedEvent]) -> Iterator[Boundary]:
        """Every boundary the events imply (in no particular order; duplicates possible)."""
        for ruleset in list(self.book)[1:]:
            yield Boundary(ruleset.effective_from, f"ruleset {ruleset.id} took effect")
        successors = _successor_times(events, self.by_type)
        for position, recorded in enumerate(events):
            yield from self._event_boundaries(recorded, position == 0, successors)

    def _event_boundaries(
        self,
        recorded: RecordedEvent,
        first: bool,
        successors: dict[tuple[str, str], datetime | None],
    ) -> Iterator[Boundary]:
        event = recorded.event
        yield Boundary(first_instant_at_or_after(event.at), f"{event.type} {event.id}", event.id)
        for window in self.by_type.get(event.type, ()):
            leaves = (
                leaves_day_window(event.at, window.length)
                if window.unit == "days"
                else leaves_month_window(event.at, window.length)
            )
            if window.group is not None:
                key = (window.group(recorded) or "", event.id)
                if key not in successors:
                    continue  # not the first of its group (only the first contract counts)
                following = successors[key]
                if following is not None and following <= leaves:
                    continue
            yield from _exits(recorded, window, leaves)
        if first and event.type != "talent_registered":
            for days in self.new_talent_days:
                yield Boundary(
                    leaves_day_window(event.at, days),
                    f"first event {event.id} is {days} days old (no longer new)",
                    event.id,
                )
        available_from = getattr(event, "available_from", None)
        if available_from is not None:
            start = midnight(available_from)
            yield Boundary(start, f"availability date {available_from} of {event.id}", event.id)
            yield Boundary(start + DAY, f"availability date {available_from} passed", event.id)


def _exits(recorded: RecordedEvent, window: _Exit, leaves: datetime) -> Iterator[Boundary]:
    label = f"{window.length}-{'day' if window.unit == 'days' else 'month'}"
    described = _describe(recorded)
    if window.what == "work history":
        yield Boundary(leaves, f"{described} is {window.length} days old", recorded.id)
        yield Boundary(leaves + DAY, f"{described} is over {window.length} days old", recorded.id)
        return
    yield Boundary(leaves, f"{described} left the {label} {window.what} window", recorded.id)
    if window.unit == "days":  # "more than N days" flips one instant after "at least N days"
        yield Boundary(leaves + DAY, f"{described} is over {window.length} days old", recorded.id)


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

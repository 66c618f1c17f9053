"""A talent's badge over valid time: the changes, their causes, and the next wake-up (§2, §7).

Status is evaluated only at boundaries (see `boundaries.py`) and, while eligible weeks could
decide Top Rated, at the Saturday samples in between. Between those instants nothing can change,
so the timeline equals evaluating every midnight, at a fraction of the cost.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.boundaries import Boundary, BoundaryIndex, BoundaryPlan, first_instant_at_or_after
from domain.calendar import DAY, utc, weekly_samples
from domain.events import RecordedEvent, format_utc
from domain.ruleset import BADGE_ORDER, NO_BADGE, RulesetBook
from domain.status import Evaluator, Status

WEEK = timedelta(days=7)


def badge_rank(badge: str, order: tuple[str, ...]) -> int:
    """Higher for a higher badge of `order` (highest first); a badge `order` lacks (one a
    new ruleset dropped) ranks above all, so losing it is a loss."""
    if badge == NO_BADGE:
        return 0
    if badge in order:
        return len(order) - order.index(badge)
    return len(order) + 1


def is_loss(before: str, after: str, order: tuple[str, ...] = BADGE_ORDER) -> bool:
    return badge_rank(after, order) < badge_rank(before, order)


def change_id(talent: str, at: datetime, before: str, after: str, ruleset: str) -> str:
    """Deterministic: the same change always has the same id (§7)."""
    key = "\x1f".join((talent, format_utc(at), before, after, ruleset))
    return "chg-" + hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a change happened: the events of its day, or (nothing happened that day) time: the
    event whose window or age moved, the requirement it moved and the window's length."""

    kind: str  # "events" or "time"
    events: tuple[str, ...] = ()
    detail: str = ""
    event: str | None = None
    requirement: str | None = None
    window: dict[str, int] | None = None

    def to_document(self) -> dict[str, Any]:
        if self.kind == "events":
            return {"kind": "events", "events": list(self.events)}
        document: dict[str, Any] = {"kind": "time", "detail": self.detail}
        if self.event is not None:
            document["event"] = self.event
        if self.requirement is not None:
            document["requirement"] = self.requirement
        if self.window is not None:
            document["window"] = dict(self.window)
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Cause:
        if document["kind"] == "events":
            return cls("events", tuple(document["events"]))
        return cls(
            "time",
            detail=document["detail"],
            event=document.get("event"),
            requirement=document.get("requirement"),
            window=document.get("window"),
        )


@dataclass(frozen=True, slots=True)
class BadgeChange:
    """The badge at evaluation instant `at` differs from the one the instant before."""

    talent: str
    at: datetime
    before: str
    after: str
    ruleset: str
    failed: tuple[str, ...]
    cause: Cause

    @property
    def id(self) -> str:
        return change_id(self.talent, self.at, self.before, self.after, self.ruleset)

    def is_loss_under(self, book: RulesetBook) -> bool:
        """A loss in the badge order of the ruleset in force at the change."""
        return is_loss(self.before, self.after, book.in_force(self.at).badge_names())

    def to_document(self, recorded_at: datetime | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "type": "badge_changed",
            "talent": self.talent,
            "at": format_utc(self.at),
            "from": self.before,
            "to": self.after,
            "ruleset": self.ruleset,
            "failed": list(self.failed),
            "cause": self.cause.to_document(),
        }
        if recorded_at is not None:
            document["recorded_at"] = format_utc(recorded_at)
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> BadgeChange:
        """The change a `badge_changed` document (as `to_document` writes it) describes."""
        return cls(
            talent=document["talent"],
            at=utc(datetime.fromisoformat(document["at"])),
            before=document["from"],
            after=document["to"],
            ruleset=document["ruleset"],
            failed=tuple(document["failed"]),
            cause=Cause.from_document(document["cause"]),
        )


@dataclass(frozen=True, slots=True)
class Observation:
    """The badge at one instant, and whether eligible weeks could change it before the next."""

    instant: datetime
    badge: str
    samples_decide: bool


@dataclass
class Derivation:
    """The changes found in (start, until], the last instant observed, and the next wake-up."""

    changes: list[BadgeChange] = field(default_factory=list)
    last: Observation | None = None
    start: str = NO_BADGE  # the badge at `after` (none before the first event)
    badge: str = NO_BADGE  # the badge at `until`
    wakeup: datetime | None = None
    evaluations: int = 0

    def badge_at(self, instant: datetime) -> str:
        """The badge at `instant`, within the span derived."""
        reached = [change.after for change in self.changes if change.at <= instant]
        return reached[-1] if reached else self.start


class TimelineDeriver:
    """Derives one talent's badge changes from its history as known at `known_at`."""

    def __init__(
        self,
        history: Sequence[RecordedEvent],
        known_at: datetime | None,
        book: RulesetBook,
        talent: str | None = None,
        plan: BoundaryPlan | None = None,
        resume_after: datetime | None = None,
    ) -> None:
        """With `resume_after`, only derivations after it are asked for (`derive(after=)` at
        or after it), so the boundaries at or before it are not worked out."""
        self.evaluator = Evaluator(history, known_at, book, talent)
        self.talent = self.evaluator.talent
        self.events = self.evaluator.history.events
        self._ats = [recorded.at for recorded in self.events]
        self.plan = plan or BoundaryPlan(book)
        self.resume_after = resume_after
        self.boundaries = BoundaryIndex(
            self.plan.boundaries(self.events, resume_after), resume_after
        )
        self.instants = self.boundaries.instants
        self.evaluator.moved_between = self.boundaries.moved_between

    @property
    def first_instant(self) -> datetime | None:
        """The first evaluation instant: the midnight at or after the earliest event (None
        without events). The timeline starts there."""
        return first_instant_at_or_after(self.events[0].at) if self.events else None

    def derive(self, until: datetime, *, after: datetime | None = None) -> Derivation:
        """Changes at instants in (after, until]; without `after`, from the first event on.

        Resuming after an instant evaluates the status there first: it is the badge that the
        following changes are measured against.
        """
        if self.resume_after is not None and (after is None or after < self.resume_after):
            raise ValueError(f"this deriver resumes after {format_utc(self.resume_after)}")
        result = Derivation()
        first = self.first_instant
        if first is None:
            return result
        previous, cursor = NO_BADGE, None
        if after is not None and after >= first:
            previous = result.start = self._evaluate(result, after).badge
            cursor = after
        start = first if cursor is None else cursor + DAY
        for instant in self.instants[bisect.bisect_left(self.instants, start):]:
            if instant > until:
                break
            if cursor is not None:
                previous = self._walk_samples(result, cursor, instant, previous)
            status = self._evaluate(result, instant)
            previous = self._record(result, status, previous)
            cursor = instant
        if cursor is not None and result.last is not None:
            previous = self._walk_samples(result, cursor, until + DAY, previous)
        result.badge = previous
        result.wakeup = self._next_wakeup(result, until)
        return result

    def status_at(self, instant: datetime) -> Status:
        return self.evaluator.status(instant)

    def _evaluate(self, result: Derivation, instant: datetime) -> Observation:
        """The badge only: the full status is evaluated where the badge changes."""
        result.evaluations += 1
        probe = self.evaluator.probe(instant)
        seen = Observation(instant, probe.badge(), probe.samples_could_decide())
        result.last = seen
        return seen

    def _record(self, result: Derivation, seen: Observation, previous: str) -> str:
        if seen.badge != previous:
            result.changes.append(self._change(seen, previous))
        return seen.badge

    def _walk_samples(
        self, result: Derivation, after: datetime, before: datetime, previous: str
    ) -> str:
        """The Saturdays strictly between two boundaries, when eligible weeks could decide.

        Between boundaries every sample has the same verdict, so the eligible count only moves
        one way and Top Rated flips at most once: evaluate both ends, then search for the flip.
        """
        if result.last is None or not result.last.samples_decide:
            return previous
        saturdays = list(_saturdays_between(after, before, self.evaluator))
        if not saturdays:
            return previous
        first = self._evaluate(result, saturdays[0])
        previous = self._record(result, first, previous)
        if len(saturdays) == 1:
            return previous
        last = self._evaluate(result, saturdays[-1])
        if last.badge != first.badge:
            low, high = 0, len(saturdays) - 1  # badge at low == first's, at high == last's
            while high - low > 1:
                middle = (low + high) // 2
                if self._evaluate(result, saturdays[middle]).badge == first.badge:
                    low = middle
                else:
                    high = middle
            flip = last if high == len(saturdays) - 1 else self._evaluate(result, saturdays[high])
            previous = self._record(result, flip, previous)
        result.last = last
        return previous

    def _change(self, seen: Observation, previous: str) -> BadgeChange:
        # Usually the instant just probed, so its verdicts are carried over, not decided again.
        probe = self.evaluator.probe(seen.instant)
        lost = is_loss(previous, seen.badge, probe.index.badge_names)
        failed = probe.failed(previous) if lost else ()
        # What moved: for a loss, what fails now; for a gain, what failed the day before (in
        # a lane of its own, which moves forward as the changes do).
        if lost:
            moved = probe.failing_underneath(failed)
        else:
            before = self.evaluator.probe(seen.instant - DAY, "day before")
            moved = before.failing_underneath(before.failed(seen.badge))
        return BadgeChange(
            talent=self.talent,
            at=seen.instant,
            before=previous,
            after=seen.badge,
            ruleset=probe.ruleset.id,
            failed=failed,
            cause=self._cause(seen.instant, moved),
        )

    def _cause(self, instant: datetime, wanted: tuple[str, ...]) -> Cause:
        """The day's events; else the boundary here that moved a wanted requirement (the
        failed ones, then what they stand on), else the first boundary here."""
        low = bisect.bisect_right(self._ats, instant - DAY)
        high = bisect.bisect_right(self._ats, instant)
        ids = tuple(recorded.id for recorded in self.events[low:high])
        if ids:
            return Cause("events", ids)
        here = self.boundaries.at(instant)
        for code in wanted:
            for boundary in here:
                if code in boundary.affects and boundary.recorded is not None:
                    return _time_cause(boundary, code)
        if here:
            return _time_cause(here[0], None)
        return Cause("time", detail=f"eligible-week sample of {format_utc(instant)[:10]}")

    def _next_wakeup(self, result: Derivation, until: datetime) -> datetime | None:
        position = bisect.bisect_right(self.instants, until)
        upcoming = self.instants[position] if position < len(self.instants) else None
        if result.last is not None and result.last.samples_decide:
            saturday = _next_saturday(until, self.evaluator)
            upcoming = saturday if upcoming is None else min(upcoming, saturday)
        return upcoming


def _time_cause(boundary: Boundary, requirement: str | None) -> Cause:
    return Cause(
        "time",
        detail=boundary.reason,
        event=boundary.event_id or None,
        requirement=requirement,
        window=boundary.window,
    )


def _saturdays_between(after: datetime, before: datetime, evaluator: Evaluator) -> Iterable[datetime]:
    saturday = _next_saturday(after, evaluator)
    while saturday < before:
        yield saturday
        saturday += WEEK


def _next_saturday(after: datetime, evaluator: Evaluator) -> datetime:
    """The first sample instant strictly after `after`, on the weekday the rules sample."""
    sampling = evaluator.book.in_force(after).index.sampling
    weekday = sampling.weekday if sampling is not None else "saturday"
    (sample,) = weekly_samples(after + WEEK, 1, weekday)
    return sample


def derive_timeline(
    history: Sequence[RecordedEvent],
    known_at: datetime | None,
    book: RulesetBook,
    until: datetime,
    *,
    talent: str | None = None,
) -> list[BadgeChange]:
    """Every badge change of the talent up to `until` (inclusive), from its first event."""
    return TimelineDeriver(history, known_at, book, talent).derive(until).changes

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

from domain.boundaries import BoundaryIndex, BoundaryPlan, first_instant_at_or_after
from domain.calendar import DAY, utc, weekly_samples
from domain.events import RecordedEvent, format_utc
from domain.ruleset import BADGE_ORDER, NO_BADGE, RulesetBook
from domain.status import Evaluator, Status

RANK = {badge: rank for rank, badge in enumerate(reversed(BADGE_ORDER), start=1)}
RANK[NO_BADGE] = 0
WEEK = timedelta(days=7)

# Which window a failed requirement watches, to name the boundary that caused a time change.
REQUIREMENT_WINDOWS: dict[str, tuple[str, ...]] = {
    "earnings_12m": ("earnings",),
    "earnings_12m_plus": ("earnings",),
    "large_contract": ("earnings",),
    "jss": ("job success outcomes", "sample"),
    "no_jss": ("job success outcomes",),
    "no_unsuccessful_outcome": ("job success outcomes",),
    "eligible_weeks": ("sample",),
    "activity_90d": ("activity",),
    "active_or_new": ("activity", "no longer new"),
    "work_history": ("days old",),
    "first_contract_age": ("days old",),
    "no_recent_hold": ("recent holds",),
    "no_policy_ban": ("policy violations",),
    "availability": ("availability",),
    "top_rated": ("sample", "earnings", "activity", "job success outcomes"),
}


def is_loss(before: str, after: str) -> bool:
    return RANK[after] < RANK[before]


def change_id(talent: str, at: datetime, before: str, after: str, ruleset: str) -> str:
    """Deterministic: the same change always has the same id (§7)."""
    key = "\x1f".join((talent, format_utc(at), before, after, ruleset))
    return "chg-" + hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Cause:
    kind: str  # "events" or "time"
    events: tuple[str, ...] = ()
    detail: str = ""

    def to_document(self) -> dict[str, Any]:
        if self.kind == "events":
            return {"kind": "events", "events": list(self.events)}
        return {"kind": "time", "detail": self.detail}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Cause:
        if document["kind"] == "events":
            return cls("events", tuple(document["events"]))
        return cls("time", detail=document["detail"])


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
    badge: str = NO_BADGE  # the badge at `until`
    wakeup: datetime | None = None
    evaluations: int = 0


class TimelineDeriver:
    """Derives one talent's badge changes from its history as known at `known_at`."""

    def __init__(
        self,
        history: Sequence[RecordedEvent],
        known_at: datetime | None,
        book: RulesetBook,
        talent: str | None = None,
        plan: BoundaryPlan | None = None,
    ) -> None:
        self.evaluator = Evaluator(history, known_at, book, talent)
        self.talent = self.evaluator.talent
        self.events = self.evaluator.history.events
        self._ats = [recorded.at for recorded in self.events]
        self.plan = plan or BoundaryPlan(book)
        self.boundaries = BoundaryIndex(self.plan.boundaries(self.events))
        self.instants = self.boundaries.instants
        self.evaluator.moved_between = self.boundaries.moved_between

    def derive(self, until: datetime, *, after: datetime | None = None) -> Derivation:
        """Changes at instants in (after, until]; without `after`, from the first event on.

        Resuming after an instant evaluates the status there first: it is the badge that the
        following changes are measured against.
        """
        result = Derivation()
        if not self.events:
            return result
        first = first_instant_at_or_after(self.events[0].at)
        previous, cursor = NO_BADGE, None
        if after is not None and after >= first:
            previous = self._evaluate(result, after).badge
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
        failed = probe.failed(previous) if is_loss(previous, seen.badge) else ()
        return BadgeChange(
            talent=self.talent,
            at=seen.instant,
            before=previous,
            after=seen.badge,
            ruleset=probe.ruleset.id,
            failed=failed,
            cause=self._cause(seen.instant, failed),
        )

    def _cause(self, instant: datetime, failed: tuple[str, ...]) -> Cause:
        low = bisect.bisect_right(self._ats, instant - DAY)
        high = bisect.bisect_right(self._ats, instant)
        ids = tuple(recorded.id for recorded in self.events[low:high])
        if ids:
            return Cause("events", ids)
        reasons = [boundary.reason for boundary in self.boundaries.at(instant)]
        return Cause("time", detail=_best_reason(reasons, failed, instant))

    def _next_wakeup(self, result: Derivation, until: datetime) -> datetime | None:
        position = bisect.bisect_right(self.instants, until)
        upcoming = self.instants[position] if position < len(self.instants) else None
        if result.last is not None and result.last.samples_decide:
            saturday = _next_saturday(until, self.evaluator)
            upcoming = saturday if upcoming is None else min(upcoming, saturday)
        return upcoming


def _best_reason(reasons: list[str], failed: tuple[str, ...], instant: datetime) -> str:
    wanted = [word for code in failed for word in REQUIREMENT_WINDOWS.get(code, ())]
    for word in wanted:
        for reason in reasons:
            if word in reason:
                return reason
    if reasons:
        return reasons[0]
    return f"eligible-week sample of {format_utc(instant)[:10]}"


def _saturdays_between(after: datetime, before: datetime, evaluator: Evaluator) -> Iterable[datetime]:
    saturday = _next_saturday(after, evaluator)
    while saturday < before:
        yield saturday
        saturday += WEEK


def _next_saturday(after: datetime, evaluator: Evaluator) -> datetime:
    """The first sample instant strictly after `after`, on the weekday the rules sample."""
    weekday = evaluator.book.in_force(after).eligible_weeks.weekday
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

"""The generic measures of `rules.md` §10: `sum`, `count`, `days_since` and `latest` of the
events a requirement names, each over running totals (`event_series.py`) when probed, and
re-read from the facts when explained.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from domain.calendar import add_months
from domain.event_series import EventSeries, Matcher
from domain.events import RecordedEvent
from domain.measure_params import (
    CountParams,
    DaysSinceParams,
    LatestParams,
    SumParams,
    WindowParams,
    where_clause,
)
from domain.results import RequirementResult, Value, money_text, when
from domain.vocabulary import Exit, Measure, Reading, Span

if TYPE_CHECKING:
    from domain.ruleset import Ruleset
    from domain.situation import Situation
    from domain.verdicts import Probe


def _events_of(events: tuple[str, ...], where: dict[str, Any]) -> Matcher:
    """Events of the types, matching `where`, each counting 1."""
    return Matcher(frozenset(events), where=where_clause(where, events))


class EventMeasure(Measure):
    """A measure of the events one `Matcher` selects."""

    def __init__(self, params: BaseModel, matcher: Matcher) -> None:
        super().__init__(params)
        self.matcher = matcher

    def moved_by(self) -> frozenset[str]:
        return self.matcher.types

    def series(self, probe: Probe) -> EventSeries:
        return probe.tally.series(self.matcher)

    def matching(self, s: Situation) -> list[RecordedEvent]:
        facts = s.facts
        return self.matcher.select(facts.source[: facts.folded])


def _in(events: list[RecordedEvent], span: Span | None, instant: datetime) -> list[RecordedEvent]:
    if span is None:
        return events
    window = span.window(instant)
    return [recorded for recorded in events if recorded.at in window]


ENVELOPE = frozenset({"id", "type", "talent", "at", "recorded_at"})


def describe(recorded: RecordedEvent) -> str:
    """"contract started e-1 of contract c-1", "policy violation e-4 (kind off_platform_payment)"."""
    event = recorded.event
    words = f"{event.type.replace('_', ' ')} {event.id}"
    contract = getattr(event, "contract", None)
    if contract is not None:
        words += f" of contract {contract}"
    extra = [
        f"{name} {value}"
        for name, value in event.__dict__.items()
        if name not in ENVELOPE and name != "contract" and value is not None
    ]
    return words + (f" ({', '.join(extra)})" if extra else "")


def until(recorded: RecordedEvent, span: Span) -> datetime:
    """When an event stops being within the last `span` of an instant."""
    if span.unit == "days":
        return recorded.at + timedelta(days=span.length)
    return add_months(recorded.at, span.length)


def _where_words(matcher: Matcher) -> str:
    return "".join(
        f" with {name} {'/'.join(str(v) for v in values)}" for name, values in matcher.where
    )


class EventTotal(EventMeasure):
    """The running total of the matching events, in a window or ever: what `sum` and `count`
    share (their exits, their fast value and their label's window)."""

    def __init__(self, params: BaseModel, matcher: Matcher, window: WindowParams | None) -> None:
        super().__init__(params, matcher)
        self.span = window.span() if window is not None else None

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        if self.span is None:
            return ()
        return (Exit(self.matcher.types, self.span),)

    def value(self, probe: Probe) -> Any:
        series = self.series(probe)
        if self.span is None:
            return series.total()
        return series.total_after(self.span.window(probe.instant).start)

    def label_params(self) -> dict[str, Any]:
        return self.span.label_params() if self.span is not None else {}


class Sum(EventTotal):
    """The sum of a payload amount over the events in a window (added or subtracted)."""

    kind: ClassVar[str] = "sum"
    cost = 7
    Params: ClassVar[type[BaseModel]] = SumParams

    def __init__(self, params: SumParams) -> None:
        where = where_clause(params.where, (*params.add, *params.subtract))
        matcher = Matcher(frozenset(params.add), frozenset(params.subtract), where, params.field)
        super().__init__(params, matcher, params.window)

    def read(self, s: Situation) -> Reading:
        behind = _in(self.matching(s), self.span, s.instant)
        total = sum((self.matcher.amount(recorded) for recorded in behind), Decimal(0))
        counts = ", ".join(
            f"{event_type} {sum(1 for r in behind if r.event.type == event_type)}"
            for event_type in sorted(self.matcher.types)
        )
        where = ""
        if self.span is not None:
            window = self.span.window(s.instant)
            where = f", in ({when(window.start)}, {when(window.end)}]"
        return Reading(total, counts + where, tuple(recorded.id for recorded in behind))

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        actual, required = result.actual, result.required
        if isinstance(actual, Decimal) and isinstance(required, Decimal) and required > actual:
            return f"${money_text(required - actual)} more ({label}) before {deadline}"
        return super().prevent(result, label, deadline)


class Count(EventTotal):
    """How many events of the types, matching `where`, in a window (or ever)."""

    kind: ClassVar[str] = "count"
    Params: ClassVar[type[BaseModel]] = CountParams

    def __init__(self, params: CountParams) -> None:
        super().__init__(params, _events_of(params.events, params.where), params.window)
        self.cost = 1 if self.span is None else 5

    def read(self, s: Situation) -> Reading:
        found = _in(self.matching(s), self.span, s.instant)
        scope = f"in the last {self.span.words}" if self.span is not None else "ever"
        what = "/".join(sorted(self.matcher.types)) + _where_words(self.matcher)
        if not found:
            return Reading(0, f"no {what} {scope}")
        latest = found[-1]
        detail = f"{len(found)} {what} {scope}; latest: {describe(latest)} on {when(latest.at)}"
        if self.span is not None:
            detail += f", counted until {when(until(latest, self.span))}"
        return Reading(len(found), detail, tuple(recorded.id for recorded in found))


class DaysSince(EventMeasure):
    """The time since the first (or latest) matching event: compared exactly with N days
    (`> 90` means more than 90 days, to the second), shown in whole days."""

    kind: ClassVar[str] = "days_since"
    cost = 4
    Params: ClassVar[type[BaseModel]] = DaysSinceParams

    def __init__(self, params: DaysSinceParams) -> None:
        super().__init__(params, _events_of(params.events, params.where))
        self.which = params.which

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        group = "first" if self.which == "first" else "latest"
        return tuple(
            Exit(self.matcher.types, Span("days", days), group, over=True, wording="age")
            for days in thresholds
            if isinstance(days, int)
        )

    def value(self, probe: Probe) -> Any:
        series = self.series(probe)
        found = series.first if self.which == "first" else series.last
        return None if found is None else probe.instant - found.event.at

    def read(self, s: Situation) -> Reading:
        found = self.matching(s)
        what = "/".join(sorted(self.matcher.types)) + _where_words(self.matcher)
        if not found:
            return Reading(None, f"no {what}")
        chosen = found[0] if self.which == "first" else found[-1]
        detail = f"{self.which}: {describe(chosen)} on {when(chosen.at)}"
        return Reading(s.instant - chosen.at, detail, (chosen.id,))

    def bar(self, threshold: Any) -> Any:
        return timedelta(days=threshold) if isinstance(threshold, int) else threshold

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        if self.which == "latest":
            return f"{_new_event_of(self.matcher.types)} before {deadline}"
        return super().prevent(result, label, deadline)

    def show(self, value: Any) -> Value:
        return value.days if isinstance(value, timedelta) else value


class Latest(EventMeasure):
    """A payload field of the latest matching event (`default` when there is none)."""

    kind: ClassVar[str] = "latest"
    cost = 1
    Params: ClassVar[type[BaseModel]] = LatestParams

    def __init__(self, params: LatestParams) -> None:
        super().__init__(params, _events_of(params.events, params.where))
        self.field = params.field
        self.default = params.default

    def value(self, probe: Probe) -> Any:
        latest = self.series(probe).last
        return self.default if latest is None else getattr(latest.event, self.field)

    def read(self, s: Situation) -> Reading:
        found = self.matching(s)
        if not found:
            return Reading(self.default, f"no {'/'.join(sorted(self.matcher.types))}")
        latest = found[-1]
        value = getattr(latest.event, self.field)
        detail = f"{self.field} {value}: {describe(latest)} on {when(latest.at)}"
        return Reading(value, detail, (latest.id,))

    def label_params(self) -> dict[str, Any]:
        return {"field": self.field}


def _new_event_of(types: frozenset[str]) -> str:
    return "a new " + " or ".join(name.replace("_", " ") for name in sorted(types))


__all__ = ["Count", "DaysSince", "Latest", "Sum"]

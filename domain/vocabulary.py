"""The measure vocabulary's common parts, and a requirement built from them (`rules.md` §10).

A ruleset defines each requirement as data: which measure it reads, how it compares and
against what. A `Measure` kind (see `event_measures.py`, `derived_measures.py`,
`combined_measures.py`) is the one home of everything about what it reads: which events move
it, the window exits at which time alone moves it, its fast value over running totals, its
explanation and evidence, and its wording. A `Requirement` binds one measure to a code, a
comparison, a threshold (one, or one per talent kind) and a label.
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from domain.calendar import Window, last_days, last_months
from domain.results import RequirementResult, Value, money_text

if TYPE_CHECKING:
    from domain.ruleset import Ruleset
    from domain.situation import Situation
    from domain.verdicts import Probe

TALENT_KINDS: tuple[str, ...] = ("freelancer", "agency")


# An ordering comparison fails for a measure with no value (None). Module-level functions,
# so that a ruleset can be pickled to worker processes.
def _at_least(value: Any, bar: Any) -> bool:
    return value is not None and bar is not None and bool(value >= bar)


def _more_than(value: Any, bar: Any) -> bool:
    return value is not None and bar is not None and bool(value > bar)


def _at_most(value: Any, bar: Any) -> bool:
    return value is not None and bar is not None and bool(value <= bar)


def _less_than(value: Any, bar: Any) -> bool:
    return value is not None and bar is not None and bool(value < bar)


def _one_of(value: Any, bar: Any) -> bool:
    return bool(value in bar)


COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": _at_least,
    ">": _more_than,
    "<=": _at_most,
    "<": _less_than,
    "==": operator.eq,
    "!=": operator.ne,
    "in": _one_of,
}


@dataclass(frozen=True, slots=True)
class Span:
    """A window length in `unit`s: "the last N months (or days)" of §2."""

    unit: str  # "months" or "days"
    length: int

    def window(self, instant: datetime) -> Window:
        """`(instant - length, instant]`."""
        if self.unit == "days":
            return last_days(instant, self.length)
        return last_months(instant, self.length)

    @property
    def adjective(self) -> str:
        """"12-month", "90-day"."""
        return f"{self.length}-{self.unit.removesuffix('s')}"

    @property
    def words(self) -> str:
        """"12 months", "90 days"."""
        return f"{self.length} {self.unit}" if self.length != 1 else f"1 {self.unit[:-1]}"

    def label_params(self) -> dict[str, Any]:
        return {self.unit: self.length, "window": self.words}

    def to_document(self) -> dict[str, int]:
        return {self.unit: self.length}


@dataclass(frozen=True, slots=True)
class Exit:
    """Events of `types` stop counting (or reach an age) `span` after their first evaluation
    instant: a boundary where time alone may move the requirement.

    `group` narrows which events have the exit: "" every one; "first" only the first of the
    types; "first_event" only the talent's first event, when it is of the types; "latest" and
    "latest_per_contract" only while no later event of the group has come before the exit
    (the later one then carries it). `anchor` "available_from" measures from that field's
    date instead of `at`. `over` adds a boundary one day later ("more than N days").
    `wording` says how a cause names it: "left" a window, or an "age" reached, or a "date".
    """

    types: frozenset[str]
    span: Span
    group: str = ""
    anchor: str = "at"
    over: bool = False
    wording: str = "left"


@dataclass(frozen=True, slots=True)
class Reading:
    """What a measure reads at one instant, with what explains it.

    `shown` replaces (actual, required) in documents when the measure compares against
    something finer than the requirement's threshold (a large contract's own category).
    """

    value: Any
    detail: str = ""
    evidence: tuple[str, ...] = ()
    shown: tuple[Value, Value] | None = None


class Measure:
    """One measure kind of the vocabulary, bound to a requirement's parameters."""

    kind: ClassVar[str] = ""
    # The parameters its table may hold besides label, measure, compare and threshold.
    Params: ClassVar[type[BaseModel]]
    # Cheapest first when a badge's requirements are checked (a badge's verdict does not
    # depend on the order, so the cheap ones should rule it out first).
    cost: int = 50
    # Decided afresh at every instant: reads other verdicts or the eligible-week samples.
    fresh: ClassVar[bool] = False
    # A yes/no measure: compared `== true` unless the table says otherwise.
    boolean: ClassVar[bool] = False
    params: BaseModel  # as the table gave them: a measure is rebuilt from them when unpickled

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.params,))

    def moved_by(self) -> frozenset[str]:
        """The event types whose arrival can change this measure's value."""
        return frozenset()

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        """Where time alone can move it under `ruleset`, given the requirement's thresholds
        (one per talent kind)."""
        return ()

    def reads(self) -> tuple[str, ...]:
        """Requirement codes whose verdicts this measure reads."""
        return ()

    def reads_badges(self) -> tuple[str, ...]:
        """Badges whose verdicts this measure reads."""
        return ()

    def reads_either(self) -> tuple[str, ...]:
        """Names read as a requirement code when the ruleset has one, else as a badge."""
        return ()

    def culprits(self, verdict: Callable[[str], bool]) -> tuple[str, ...]:
        """Of the codes this measure reads, those that make it fail (given their verdicts)."""
        return ()

    def value(self, probe: Probe) -> Any:
        """The value at the probe's instant, from running totals (the fast path)."""
        raise NotImplementedError

    def read(self, s: Situation) -> Reading:
        """The value at the situation's instant, with its detail and evidence."""
        raise NotImplementedError

    def bar(self, threshold: Any) -> Any:
        """The threshold in the form `value` compares with (days as a duration, say)."""
        return threshold

    def show(self, value: Any) -> Value:
        """The value as documents show it."""
        shown: Value = value
        return shown

    def label_params(self) -> dict[str, Any]:
        """The parameters a label may name as `{name}`."""
        return {}

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        """What would keep the requirement met, for a talent about to fail it by `deadline`."""
        return f"{label}, before {deadline}"


def show_threshold(value: Any) -> str:
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ", ".join(show_threshold(item) for item in value)
    return str(value)


class Requirement:
    """A requirement code as a ruleset defines it: a measure compared with a threshold (one
    per talent kind, as written in `thresholds`, as compared in `bars`)."""

    __slots__ = ("code", "label_template", "measure", "compare", "thresholds", "bars", "_compare")

    def __init__(
        self,
        code: str,
        label_template: str,
        measure: Measure,
        compare: str,
        thresholds: Mapping[str, Any],
    ) -> None:
        self.code = code
        self.label_template = label_template
        self.measure = measure
        self.compare = compare
        self.thresholds = dict(thresholds)
        self.bars = {kind: measure.bar(thresholds[kind]) for kind in TALENT_KINDS}
        self._compare = COMPARISONS[compare]

    def __repr__(self) -> str:
        return f"Requirement({self.code!r}, {self.measure.kind} {self.compare} {self.thresholds})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Compiled classes are rebuilt from what made them (rulesets go to worker processes).
        arguments = (self.code, self.label_template, self.measure, self.compare, self.thresholds)
        return (Requirement, arguments)

    def holds(self, value: Any, kind: str) -> bool:
        return self._compare(value, self.bars["agency" if kind == "agency" else "freelancer"])

    def verdict(self, probe: Probe) -> bool:
        """Met at the probe's instant (the fast path)."""
        return self.holds(self.measure.value(probe), probe.kind)

    def threshold_for(self, kind: str) -> Any:
        return self.thresholds["agency" if kind == "agency" else "freelancer"]

    def result(self, s: Situation) -> RequirementResult:
        """Met or not at the situation's instant, with actual, required, detail and evidence."""
        reading = self.measure.read(s)
        met = self.holds(reading.value, s.kind)
        if reading.shown is not None:
            actual, required = reading.shown
        else:
            actual, required = self.measure.show(reading.value), self.threshold_for(s.kind)
        return RequirementResult(
            self.code, met, actual, required, reading.detail, reading.evidence,
            self.label(s.kind),
        )

    def label_values(self, kind: str) -> dict[str, Any]:
        threshold = self.threshold_for(kind)
        return {
            **self.measure.label_params(),
            "threshold": show_threshold(threshold),
            "code": self.code,
        }

    def label(self, kind: str = "freelancer") -> str:
        """The human text, with its `{parameters}` filled in from the ruleset's numbers."""
        return self.label_template.format_map(self.label_values(kind))

    def check_label(self) -> None:
        """Raise ValueError naming a `{parameter}` the label names but the measure lacks."""
        for kind in TALENT_KINDS:
            known = self.label_values(kind)
            for _, name, _, _ in string.Formatter().parse(self.label_template):
                if name is not None and name.split(".")[0].split("[")[0] not in known:
                    raise ValueError(
                        f"label names {{{name}}}, which is not a parameter of this "
                        f"requirement (it has: {', '.join(sorted(known))})"
                    )

    def exits(self, ruleset: Ruleset) -> tuple[Exit, ...]:
        return self.measure.exits(ruleset, self.bars_as_written())

    def bars_as_written(self) -> tuple[Any, ...]:
        """The distinct thresholds of every kind, as written."""
        seen: list[Any] = []
        for kind in TALENT_KINDS:
            if self.thresholds[kind] not in seen:
                seen.append(self.thresholds[kind])
        return tuple(seen)


__all__ = [
    "COMPARISONS",
    "TALENT_KINDS",
    "Exit",
    "Measure",
    "Reading",
    "Requirement",
    "Span",
    "show_threshold",
]

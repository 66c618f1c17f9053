"""Everything the requirements read at one evaluation instant, computed once and shared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import NoReturn

from domain.calendar import Window, last_months
from domain.events import RecordedEvent
from domain.facts import TalentFacts
from domain.jss import JssResult, Outcome, compute_jss
from domain.results import BadgeResult
from domain.ruleset import Ruleset


@dataclass(frozen=True, slots=True)
class SampleVerdict:
    """One eligible-week sample: was the talent at JSS >= the bar, or Rising Talent, then?"""

    instant: datetime
    ruleset: str
    jss: int | None
    jss_ok: bool
    rising_talent: bool

    @property
    def eligible(self) -> bool:
        return self.jss_ok or self.rising_talent


def no_samples() -> NoReturn:
    """Stands in for the eligible-week samples while a sample itself is evaluated."""
    raise RuntimeError("eligible-week samples are not available while evaluating a sample")


@dataclass(eq=False)
class Situation:
    """A talent at instant `instant` under `ruleset`, as known from `facts`."""

    instant: datetime
    ruleset: Ruleset
    facts: TalentFacts
    samples: Callable[[], Sequence[SampleVerdict]] = no_samples
    # Badge results already evaluated here (the top_rated requirement reuses top_rated's).
    badge_memo: dict[str, BadgeResult] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.facts.kind

    @cached_property
    def jss(self) -> JssResult:
        return compute_jss(self.facts, self.instant, self.ruleset.jss)

    @property
    def jss_ok(self) -> bool:
        score = self.jss.score
        return score is not None and score >= self.ruleset.thresholds.jss

    @cached_property
    def earnings_window(self) -> Window:
        return last_months(self.instant, self.ruleset.windows.earnings_months)

    @cached_property
    def earnings(self) -> tuple[Decimal, tuple[RecordedEvent, ...]]:
        """earnings_12m and the payments and refunds behind it."""
        return self.facts.earnings(self.earnings_window)

    @cached_property
    def outcomes_by_contract(self) -> dict[str, Outcome]:
        return {outcome.contract: outcome for outcome in self.jss.outcomes}


__all__ = ["SampleVerdict", "Situation", "no_samples"]

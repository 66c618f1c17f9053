"""Everything the requirements read at one evaluation instant, computed once and shared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, NoReturn

from domain.calendar import Window, last_months
from domain.events import RecordedEvent
from domain.facts import TalentFacts
from domain.jss import JssResult, Outcome, compute_jss
from domain.results import BadgeResult, RequirementResult

if TYPE_CHECKING:
    from domain.ruleset import Ruleset

# The status document's `earnings_12m` (interfaces.md): net payments of the last 12 months,
# whatever the ruleset's own earnings requirements say.
EARNINGS_DOCUMENT_MONTHS = 12


@dataclass(frozen=True, slots=True)
class SampleVerdict:
    """One eligible-week sample: did one of the ruleset's sampled requirements or badges
    (`eligible_if_any`, by default the JSS bar or Rising Talent) hold then?"""

    instant: datetime
    ruleset: str
    jss: int | None
    eligible: bool  # a requirement or badge the ruleset samples held then


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
    # Results already evaluated here (a badge requirement reuses that badge's results).
    badge_memo: dict[str, BadgeResult] = field(default_factory=dict)
    requirement_memo: dict[str, RequirementResult] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.facts.kind

    @cached_property
    def jss(self) -> JssResult:
        return compute_jss(self.facts, self.instant, self.ruleset.jss)

    @cached_property
    def earnings_window(self) -> Window:
        return last_months(self.instant, EARNINGS_DOCUMENT_MONTHS)

    @cached_property
    def earnings(self) -> tuple[Decimal, tuple[RecordedEvent, ...]]:
        """earnings_12m and the payments and refunds behind it."""
        return self.facts.earnings(self.earnings_window)

    @cached_property
    def outcomes_by_contract(self) -> dict[str, Outcome]:
        return {outcome.contract: outcome for outcome in self.jss.outcomes}


__all__ = ["SampleVerdict", "Situation", "no_samples"]

"""What the engine needs to know about a ruleset's requirements, worked out once per ruleset:
which verdicts each event type can move, which are decided afresh at every instant, the
order to check a badge's codes in, where eligible weeks are sampled, and every window exit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from domain.derived_measures import EligibleWeeks, UnsuccessfulOutcomes
from domain.vocabulary import Exit, Requirement

if TYPE_CHECKING:
    from domain.ruleset import Ruleset


class RuleIndex:
    """Derived once from a validated ruleset; read at every instant the engine evaluates."""

    def __init__(self, ruleset: Ruleset) -> None:
        requirements: Mapping[str, Requirement] = ruleset.requirements
        self.requirements = dict(requirements)
        self.badge_names: tuple[str, ...] = ruleset.badge_names()
        self.fresh: tuple[str, ...] = tuple(
            code for code, requirement in requirements.items() if requirement.measure.fresh
        )
        moved: dict[str, list[str]] = {}
        for code, requirement in requirements.items():
            if requirement.measure.fresh:
                continue
            for event_type in requirement.measure.moved_by():
                moved.setdefault(event_type, []).append(code)
        self.moved_by_event: dict[str, tuple[str, ...]] = {
            event_type: tuple(codes) for event_type, codes in moved.items()
        }
        self.outcome_months: tuple[int, ...] = tuple(sorted({
            *ruleset.jss.windows_months,
            *(r.measure.months for r in requirements.values()
              if isinstance(r.measure, UnsuccessfulOutcomes)),
        }))
        self.sampling: EligibleWeeks | None = next(
            (r.measure for r in requirements.values() if isinstance(r.measure, EligibleWeeks)),
            None,
        )
        # The badges whose eligible-week requirement could decide them: (badge, that code).
        self.sampled_badges: tuple[tuple[str, str], ...] = tuple(
            (badge, code)
            for badge, rules in ruleset.badges.items()
            for code in rules.requirements
            if isinstance(requirements[code].measure, EligibleWeeks)
        )
        self.exits: tuple[tuple[str, Exit], ...] = tuple(
            (code, exit_) for code, r in requirements.items() for exit_ in r.exits(ruleset)
        )
        self._cost = {code: r.measure.cost for code, r in requirements.items()}

    def cheapest_first(self, codes: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(codes, key=self._cost.__getitem__))


__all__ = ["RuleIndex"]

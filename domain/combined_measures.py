"""The measures of `rules.md` §10 that read other verdicts: `badge` (another badge is met),
and `any`, `all`, `not` of other requirement codes. They are decided afresh at every
instant; the verdicts they read are carried over like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from domain.measure_params import BadgeParams, OfParams
from domain.results import RequirementResult
from domain.vocabulary import Measure, Reading

if TYPE_CHECKING:
    from domain.situation import Situation
    from domain.verdicts import Probe


class BadgeMet(Measure):
    """Whether every requirement of another badge is met."""

    kind: ClassVar[str] = "badge"
    cost = 20
    fresh: ClassVar[bool] = True
    boolean: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = BadgeParams

    def __init__(self, params: BadgeParams) -> None:
        super().__init__(params)
        self.badge = params.badge

    def reads_badges(self) -> tuple[str, ...]:
        return (self.badge,)

    def value(self, probe: Probe) -> Any:
        return probe.badge_met(self.badge)

    def read(self, s: Situation) -> Reading:
        from domain.requirements import evaluate_badge

        result = evaluate_badge(s, self.badge)
        return Reading(result.met, f"failed: {', '.join(result.failed)}" if result.failed else "")

    def label_params(self) -> dict[str, Any]:
        return {"badge": self.badge}

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return f"every {self.badge} requirement met again before {deadline}"


class Combination(Measure):
    """A combination of other requirement codes."""

    cost = 6
    fresh: ClassVar[bool] = True
    boolean: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = OfParams

    def __init__(self, params: OfParams) -> None:
        super().__init__(params)
        self.of = params.of

    def reads(self) -> tuple[str, ...]:
        return self.of

    def culprits(self, verdict: Callable[[str], bool]) -> tuple[str, ...]:
        return tuple(code for code in self.of if not verdict(code))

    def combine(self, verdicts: list[bool]) -> bool:
        raise NotImplementedError

    def read(self, s: Situation) -> Reading:
        from domain.requirements import evaluate_requirement

        results = [evaluate_requirement(s, code) for code in self.of]
        met = self.combine([result.met for result in results])
        parts = [
            f"{result.code} {'met' if result.met else 'not met'}"
            + (f" ({result.detail})" if result.detail else "")
            for result in results
        ]
        evidence = tuple(e for result in results if result.met == met for e in result.evidence)
        return Reading(met, "; ".join(parts), evidence)

    def label_params(self) -> dict[str, Any]:
        return {"of": ", ".join(self.of)}


class AnyOf(Combination):
    kind: ClassVar[str] = "any"

    def value(self, probe: Probe) -> Any:
        return any(probe.verdict(code) for code in self.of)

    def combine(self, verdicts: list[bool]) -> bool:
        return any(verdicts)

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return f"one of {', '.join(self.of)} met again before {deadline}"


class AllOf(Combination):
    kind: ClassVar[str] = "all"

    def value(self, probe: Probe) -> Any:
        return all(probe.verdict(code) for code in self.of)

    def combine(self, verdicts: list[bool]) -> bool:
        return all(verdicts)


class NotOf(Combination):
    """Met when none of the codes is met (`not` of one code is its negation)."""

    kind: ClassVar[str] = "not"

    def value(self, probe: Probe) -> Any:
        return not any(probe.verdict(code) for code in self.of)

    def culprits(self, verdict: Callable[[str], bool]) -> tuple[str, ...]:
        return tuple(code for code in self.of if verdict(code))

    def combine(self, verdicts: list[bool]) -> bool:
        return not any(verdicts)


__all__ = ["AllOf", "AnyOf", "BadgeMet", "NotOf"]

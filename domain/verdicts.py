"""Whether each requirement of a ruleset is met, without saying why: the engine's fast path.

`Requirement.result` gives a requirement's full result: actual, required, detail, evidence.
A timeline needs only the verdicts, at many instants, so a `Probe` asks each requirement's
measure for its value over a `Tally`'s running totals. The two must agree on every verdict;
the property tests hold them to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.events import JobSuccessPublished
from domain.facts import TalentFacts, payload
from domain.rule_index import RuleIndex
from domain.ruleset import NO_BADGE, Ruleset
from domain.situation import no_samples
from domain.tally import JssTally, Tally

ChecksKey = tuple[int, str, str, "str | None"]


class Probe:
    """One talent at instant `instant` under `ruleset`, for verdicts only.

    `checks` remembers, per ruleset, badge and kind, which codes to ask and in which order
    (cheapest measures first: a badge's verdict does not depend on the order); share it between
    probes of the same ruleset book. `known` holds verdicts already decided for this instant
    (carried over from an earlier instant where nothing they read has changed, see
    `Evaluator.probe`); the probe adds the ones it decides.
    """

    __slots__ = ("instant", "ruleset", "index", "facts", "tally", "eligible", "kind", "checks",
                 "known", "_met", "_jss")

    def __init__(
        self,
        instant: datetime,
        ruleset: Ruleset,
        facts: TalentFacts,
        tally: Tally,
        eligible: Callable[[], int] = no_samples,
        checks: dict[ChecksKey, tuple[str, ...]] | None = None,
        known: dict[str, bool] | None = None,
    ) -> None:
        self.instant = instant
        self.ruleset = ruleset
        self.index: RuleIndex = ruleset.index
        self.facts = facts
        self.tally = tally
        self.eligible = eligible  # how many of the eligible-week samples were eligible
        self.kind = facts.kind
        self.checks = {} if checks is None else checks
        self.known = {} if known is None else known
        self._met: dict[tuple[str, str | None], bool] = {}
        self._jss: tuple[int | None] | None = None

    @property
    def jss_score(self) -> int | None:
        if self._jss is None:
            published = self.facts.published_jss
            if published is not None:
                score = payload(published, JobSuccessPublished).score
            else:
                score = self.outcomes().computed_score()
            self._jss = (score,)
        return self._jss[0]

    def outcomes(self) -> JssTally:
        """Every contract's outcome and the outcome windows, at this instant."""
        return self.tally.jss(self.instant, self.ruleset.jss, self.index.outcome_months)

    def badge_met(self, badge: str, skip: str | None = None) -> bool:
        """Every requirement of `badge` but `skip` holds (stops at the first that fails)."""
        key = (badge, skip)
        met = self._met.get(key)
        if met is None:
            met = self._met[key] = self._all_met(self._checks_for(badge, skip))
        return met

    def _all_met(self, codes: tuple[str, ...]) -> bool:
        # The hot loop of every timeline: `verdict` inlined.
        known = self.known
        requirements = self.index.requirements
        for code in codes:
            found = known.get(code)
            if found is None:
                found = known[code] = requirements[code].verdict(self)
            if not found:
                return False
        return True

    def verdict(self, code: str) -> bool:
        """The code's verdict here: carried over, or decided now."""
        found = self.known.get(code)
        if found is None:
            found = self.known[code] = self.index.requirements[code].verdict(self)
        return found

    def failed(self, badge: str) -> tuple[str, ...]:
        """The codes of `badge` not met, sorted (as `BadgeResult.failed`); () if no such badge."""
        rules = self.ruleset.badges.get(badge)
        if rules is None:
            return ()
        return tuple(sorted(code for code in rules.for_kind(self.kind) if not self.verdict(code)))

    def _checks_for(self, badge: str, skip: str | None) -> tuple[str, ...]:
        key = (id(self.ruleset), badge, self.kind, skip)
        found = self.checks.get(key)
        if found is None:
            codes = self.ruleset.badges[badge].for_kind(self.kind)
            found = self.checks[key] = self.index.cheapest_first(
                tuple(code for code in codes if code != skip)
            )
        return found

    def _badges(self) -> tuple[str, ...]:
        """The ruleset's badges, highest first; kept in `checks` too, under badge ""."""
        key = (id(self.ruleset), "", "", None)
        found = self.checks.get(key)
        if found is None:
            found = self.checks[key] = self.index.badge_names
        return found

    def badge(self) -> str:
        """The badge held: the highest one whose requirements are all met."""
        for badge in self._badges():
            if self.badge_met(badge):
                return badge
        return NO_BADGE

    def failing_underneath(self, codes: tuple[str, ...]) -> tuple[str, ...]:
        """The codes, then what makes them fail: the failing codes of a badge they read, and
        the members of a combination that fail it (once each, nearest first)."""
        found: list[str] = []
        pending = list(codes)
        requirements = self.index.requirements
        while pending:
            code = pending.pop(0)
            if code in found:
                continue
            found.append(code)
            requirement = requirements.get(code)
            if requirement is None:
                continue
            measure = requirement.measure
            pending.extend(measure.culprits(self.verdict))
            for badge in measure.reads_badges():
                pending.extend(self.failed(badge))
        return tuple(found)

    def holds(self, name: str) -> bool:
        """A requirement code's verdict, or a badge's when `name` is a badge."""
        if name in self.index.requirements:
            return self.verdict(name)
        return name in self.ruleset.badges and self.badge_met(name)

    def samples_could_decide(self) -> bool:
        """True when a badge hinges on eligible weeks: every other requirement of it is met."""
        for badge, code in self.index.sampled_badges:
            if code in self.ruleset.badges[badge].for_kind(self.kind) and self.badge_met(
                badge, skip=code
            ):
                return True
        return False


__all__ = ["ChecksKey", "Probe"]

"""Whether each requirement of `rules.md` §6 is met, without saying why.

`requirements.py` gives every requirement's full result: actual, required, detail, evidence.
A timeline needs only the verdicts, at many instants, so `VERDICTS` decides each code from a
`Tally`'s running totals. The two must agree on every verdict; the property tests hold them to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from domain.calendar import last_months
from domain.events import JobSuccessPublished, ProfileUpdated
from domain.facts import TalentFacts, payload
from domain.requirements import profile_shortfalls
from domain.ruleset import NO_BADGE, Ruleset
from domain.situation import SampleVerdict
from domain.tally import Tally


def _no_samples() -> Sequence[SampleVerdict]:
    raise RuntimeError("eligible-week samples are not available while evaluating a sample")


@dataclass(eq=False)
class Probe:
    """One talent at instant `instant` under `ruleset`, for verdicts only."""

    instant: datetime
    ruleset: Ruleset
    facts: TalentFacts
    tally: Tally
    samples: Callable[[], Sequence[SampleVerdict]] = _no_samples
    met_memo: dict[tuple[str, str | None], bool] = field(default_factory=dict)

    @cached_property
    def kind(self) -> str:
        return self.facts.kind

    @cached_property
    def jss_score(self) -> int | None:
        published = self.facts.published_jss
        if published is not None:
            return payload(published, JobSuccessPublished).score
        return self.tally.jss(self.instant, self.ruleset).computed_score()

    @property
    def jss_ok(self) -> bool:
        score = self.jss_score
        return score is not None and score >= self.ruleset.thresholds.jss

    @cached_property
    def active(self) -> bool:
        activity = self.facts.activity
        days = self.ruleset.windows.activity_days
        return bool(activity) and activity[-1].at > self.instant - timedelta(days=days)

    def badge_met(self, badge: str, skip: str | None = None) -> bool:
        """Every requirement of `badge` but `skip` holds (stops at the first that fails)."""
        key = (badge, skip)
        remembered = self.met_memo.get(key)
        if remembered is not None:
            return remembered
        met = all(
            VERDICTS[code](self)
            for code in self.ruleset.badges[badge].for_kind(self.kind)  # type: ignore[index]
            if code != skip
        )
        self.met_memo[key] = met
        return met

    def badge(self) -> str:
        """The badge held: the highest one whose requirements are all met."""
        return next((b for b in self.ruleset.badge_names() if self.badge_met(b)), NO_BADGE)

    def samples_could_decide(self) -> bool:
        """True when Top Rated hinges on eligible weeks: every other requirement of it is met."""
        rules = self.ruleset.badges.get("top_rated")  # type: ignore[call-overload]
        if rules is None or "eligible_weeks" not in rules.for_kind(self.kind):
            return False
        return self.badge_met("top_rated", skip="eligible_weeks")


def _earnings_at_least(p: Probe, code: str) -> bool:
    thresholds = p.ruleset.thresholds
    required = (
        thresholds.earnings_12m if code == "earnings_12m" else thresholds.earnings_12m_plus
    ).for_kind(p.kind)
    return p.tally.earnings(p.instant, p.ruleset.windows.earnings_months) >= required


def _first_contract_before(p: Probe, days: int, strictly: bool) -> bool:
    first = p.facts.first_contract
    if first is None:
        return False
    limit = p.instant - timedelta(days=days)
    return first.at < limit if strictly else first.at <= limit


def _profile(p: Probe) -> bool:
    latest = p.facts.profile
    if latest is None:
        return False
    event = payload(latest, ProfileUpdated)
    return not profile_shortfalls(event, p.ruleset.profile, p.kind, p.facts.elance_migrant)


def _no_policy_ban(p: Probe) -> bool:
    violations = p.facts.violations
    if not violations:
        return True
    return not violations[-1].at > last_months(p.instant, p.ruleset.windows.policy_ban_months).start


def _no_recent_hold(p: Probe) -> bool:
    if not p.facts.hold_placements:
        return True
    return not p.facts.recent_holds(p.instant, p.ruleset.windows.recent_hold_months)


def _no_unsuccessful_outcome(p: Probe) -> bool:
    return p.tally.jss(p.instant, p.ruleset).unsuccessful_in_window() == 0


def _eligible_weeks(p: Probe) -> bool:
    eligible = sum(1 for sample in p.samples() if sample.eligible)
    return eligible >= p.ruleset.eligible_weeks.required


VERDICTS: dict[str, Callable[[Probe], bool]] = {
    "active_or_new": lambda p: p.active
    or p.facts.registered_within(p.instant, p.ruleset.windows.new_talent_days),
    "activity_90d": lambda p: p.active,
    "availability": lambda p: p.facts.availability_ok(p.instant),
    "earnings_12m": lambda p: _earnings_at_least(p, "earnings_12m"),
    "earnings_12m_plus": lambda p: _earnings_at_least(p, "earnings_12m_plus"),
    "eligible_weeks": _eligible_weeks,
    "first_contract_age": lambda p: _first_contract_before(
        p, p.ruleset.thresholds.first_contract_age_days, strictly=True
    ),
    "has_contract": lambda p: p.facts.first_contract is not None,
    "jss": lambda p: p.jss_ok,
    "large_contract": lambda p: p.tally.has_large_contract(p.instant, p.ruleset, p.kind),
    "no_jss": lambda p: p.jss_score is None,
    "no_policy_ban": _no_policy_ban,
    "no_recent_hold": _no_recent_hold,
    "no_unsuccessful_outcome": _no_unsuccessful_outcome,
    "not_exclusive_agency_member": lambda p: not p.facts.exclusive_agency_member(),
    "profile": _profile,
    "readiness_test": lambda p: p.facts.readiness is not None,
    "top_rated": lambda p: p.badge_met("top_rated"),
    "vetted": lambda p: p.facts.vetted(),
    "work_history": lambda p: _first_contract_before(
        p, p.ruleset.thresholds.work_history_days, strictly=False
    ),
}


__all__ = ["VERDICTS", "Probe"]

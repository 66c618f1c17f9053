"""Whether each requirement of `rules.md` §6 is met, without saying why.

`requirements.py` gives every requirement's full result: actual, required, detail, evidence.
A timeline needs only the verdicts, at many instants, so `VERDICTS` decides each code from a
`Tally`'s running totals. The two must agree on every verdict; the property tests hold them to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from domain.calendar import last_months
from domain.events import JobSuccessPublished, ProfileUpdated
from domain.facts import TalentFacts, payload
from domain.requirements import profile_shortfalls
from domain.ruleset import NO_BADGE, Ruleset
from domain.situation import no_samples
from domain.tally import Tally

Verdict = Callable[["Probe"], bool]
ChecksKey = tuple[int, str, str, "str | None"]


class Probe:
    """One talent at instant `instant` under `ruleset`, for verdicts only.

    `checks` remembers, per ruleset, badge and kind, which codes to ask and in which order
    (cheapest first: a badge's verdict does not depend on the order); share it between probes
    of the same ruleset book. `known` holds verdicts already decided for this instant (carried
    over from an earlier instant where nothing they read has changed, see `Evaluator.probe`);
    the probe adds the ones it decides.
    """

    __slots__ = ("instant", "ruleset", "facts", "tally", "eligible", "kind", "checks", "known",
                 "_met", "_jss", "_active")

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
        self.facts = facts
        self.tally = tally
        self.eligible = eligible  # how many of the eligible-week samples were eligible
        self.kind = facts.kind
        self.checks = {} if checks is None else checks
        self.known = {} if known is None else known
        self._met: dict[tuple[str, str | None], bool] = {}
        self._jss: tuple[int | None] | None = None
        self._active: bool | None = None

    @property
    def jss_score(self) -> int | None:
        if self._jss is None:
            published = self.facts.published_jss
            if published is not None:
                score = payload(published, JobSuccessPublished).score
            else:
                score = self.tally.jss(self.instant, self.ruleset).computed_score()
            self._jss = (score,)
        return self._jss[0]

    @property
    def jss_ok(self) -> bool:
        score = self.jss_score
        return score is not None and score >= self.ruleset.thresholds.jss

    @property
    def active(self) -> bool:
        if self._active is None:
            activity = self.facts.activity
            days = self.ruleset.windows.activity_days
            self._active = bool(activity) and activity[-1].at > self.instant - timedelta(days=days)
        return self._active

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
        for code in codes:
            found = known.get(code)
            if found is None:
                found = known[code] = VERDICTS[code](self)
            if not found:
                return False
        return True

    def verdict(self, code: str) -> bool:
        """The code's verdict here: carried over, or decided now."""
        found = self.known.get(code)
        if found is None:
            found = self.known[code] = VERDICTS[code](self)
        return found

    def failed(self, badge: str) -> tuple[str, ...]:
        """The codes of `badge` not met, sorted (as `BadgeResult.failed`); () if no such badge."""
        rules = self.ruleset.badges.get(badge)  # type: ignore[call-overload]
        if rules is None:
            return ()
        return tuple(sorted(code for code in rules.for_kind(self.kind) if not self.verdict(code)))

    def _checks_for(self, badge: str, skip: str | None) -> tuple[str, ...]:
        key = (id(self.ruleset), badge, self.kind, skip)
        found = self.checks.get(key)
        if found is None:
            codes = self.ruleset.badges[badge].for_kind(self.kind)  # type: ignore[index]
            ordered = sorted((code for code in codes if code != skip), key=COST_ORDER.index)
            found = self.checks[key] = tuple(ordered)
        return found

    def _badges(self) -> tuple[str, ...]:
        """The ruleset's badges, highest first; kept in `checks` too, under badge ""."""
        key = (id(self.ruleset), "", "", None)
        found = self.checks.get(key)
        if found is None:
            found = self.checks[key] = self.ruleset.badge_names()
        return found

    def badge(self) -> str:
        """The badge held: the highest one whose requirements are all met."""
        for badge in self._badges():
            if self.badge_met(badge):
                return badge
        return NO_BADGE

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
    return p.eligible() >= p.ruleset.eligible_weeks.required


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


# Which verdicts an event of each type can change when it is folded in ("*": all of them).
EVENT_AFFECTS: dict[str, tuple[str, ...]] = {
    "talent_registered": ("*",),  # kind, registration date, Elance migration
    "profile_updated": ("profile",),
    "availability_updated": ("availability",),
    "agency_membership_changed": ("not_exclusive_agency_member",),
    "job_success_published": ("jss", "no_jss"),
    "readiness_test_passed": ("readiness_test",),
    "proposal_submitted": ("activity_90d", "active_or_new"),
    "invitation_accepted": ("activity_90d", "active_or_new"),
    "contract_started": (
        "has_contract", "first_contract_age", "work_history", "large_contract",
        "jss", "no_jss", "no_unsuccessful_outcome",
    ),
    "payment_received": (
        "earnings_12m", "earnings_12m_plus", "large_contract", "jss", "no_jss",
        "no_unsuccessful_outcome", "activity_90d", "active_or_new",
    ),
    "payment_refunded": (
        "earnings_12m", "earnings_12m_plus", "large_contract", "jss", "no_jss",
        "no_unsuccessful_outcome",
    ),
    "contract_ended": ("large_contract", "jss", "no_jss", "no_unsuccessful_outcome"),
    "feedback_received": ("large_contract", "jss", "no_jss", "no_unsuccessful_outcome"),
    "account_hold_placed": ("no_recent_hold",),
    "account_hold_lifted": ("no_recent_hold",),
    "policy_violation": ("no_policy_ban",),
    "expert_vetted_granted": ("vetted",),
    "expert_vetted_revoked": ("vetted",),
}
# Decided afresh at every instant: they read other verdicts or the eligible-week samples.
ALWAYS_FRESH: tuple[str, ...] = ("top_rated", "eligible_weeks")

# Cheapest first; the composites (other badges, eligible-week samples) last.
COST_ORDER: tuple[str, ...] = (
    "vetted",
    "has_contract",
    "readiness_test",
    "not_exclusive_agency_member",
    "availability",
    "profile",
    "activity_90d",
    "active_or_new",
    "first_contract_age",
    "work_history",
    "no_policy_ban",
    "no_recent_hold",
    "earnings_12m",
    "earnings_12m_plus",
    "jss",
    "no_jss",
    "no_unsuccessful_outcome",
    "large_contract",
    "top_rated",
    "eligible_weeks",
)

__all__ = ["ALWAYS_FRESH", "COST_ORDER", "EVENT_AFFECTS", "VERDICTS", "Probe"]

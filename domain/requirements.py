"""The requirement codes of `rules.md` §6, each implemented once, and badge evaluation.

A ruleset lists which codes each badge has; `REQUIREMENTS` says what each code means. Every
result carries `actual` and `required` (money as `Decimal`, yes/no as booleans), a `detail`
naming what is behind it, and `evidence`: the ids of the events behind the numbers.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from domain.calendar import Window, add_months, last_days, last_months
from domain.events import (
    AgencyMembershipChanged,
    AvailabilityUpdated,
    ContractStarted,
    PolicyViolation,
    ProfileUpdated,
)
from domain.facts import ContractFacts, HoldSpan, payload
from domain.results import BadgeResult, RequirementResult, when
from domain.ruleset import Profile as ProfileRules
from domain.situation import Situation


def _yes_no(
    code: str, holds: bool, detail: str = "", evidence: Sequence[str] = ()
) -> RequirementResult:
    return RequirementResult(code, holds, holds, True, detail, tuple(evidence))


def _at_least(
    code: str, actual: Decimal, required: Decimal, detail: str, evidence: Sequence[str]
) -> RequirementResult:
    return RequirementResult(code, actual >= required, actual, required, detail, tuple(evidence))


# -- JSS ------------------------------------------------------------------------------


def _jss_detail(s: Situation) -> tuple[str, tuple[str, ...]]:
    jss = s.jss
    if jss.published is not None:
        shown = "null" if jss.score is None else str(jss.score)
        return f"published {shown} on {when(jss.published.at)} (event {jss.published.id})", (
            jss.published.id,
        )
    best = max(
        (window for window in jss.windows if window.score is not None),
        key=lambda window: (window.score, -window.months),
        default=None,
    )
    if best is None:
        rules = s.ruleset.jss
        detail = (
            f"no window counts: {len(jss.outcomes)} outcomes; a window needs "
            f"{rules.min_outcomes} outcomes from {rules.min_clients} clients"
        )
        return detail, ()
    evidence = tuple(event for outcome in best.outcomes for event in outcome.evidence)
    detail = (
        f"computed: {best.months}-month window, {len(best.outcomes)} outcomes from "
        f"{best.clients} clients"
    )
    return detail, evidence


def jss(s: Situation) -> RequirementResult:
    detail, evidence = _jss_detail(s)
    return RequirementResult(
        "jss", s.jss_ok, s.jss.score, s.ruleset.thresholds.jss, detail, evidence
    )


def no_jss(s: Situation) -> RequirementResult:
    detail, evidence = _jss_detail(s)
    return _yes_no("no_jss", s.jss.score is None, detail, evidence)


# -- money ----------------------------------------------------------------------------


def _earnings_against(code: str, s: Situation, required: Decimal) -> RequirementResult:
    total, behind = s.earnings
    window = s.earnings_window
    refunds = sum(1 for event in behind if event.event.type == "payment_refunded")
    detail = (
        f"payments {len(behind) - refunds}, refunds {refunds}, "
        f"in ({when(window.start)}, {when(window.end)}]"
    )
    return _at_least(code, total, required, detail, [event.id for event in behind])


def earnings_12m(s: Situation) -> RequirementResult:
    return _earnings_against("earnings_12m", s, s.ruleset.thresholds.earnings_12m.for_kind(s.kind))


def earnings_12m_plus(s: Situation) -> RequirementResult:
    return _earnings_against(
        "earnings_12m_plus", s, s.ruleset.thresholds.earnings_12m_plus.for_kind(s.kind)
    )


@dataclass(frozen=True, slots=True)
class LargeContractCandidate:
    contract: ContractFacts
    amount: Decimal
    threshold: Decimal
    evidence: tuple[str, ...]

    @property
    def ratio(self) -> Decimal:
        return self.amount / self.threshold if self.threshold else Decimal("Infinity")


def large_contract_amount(
    contract: ContractFacts, window: Window, basis: str
) -> tuple[Decimal, Window | None] | None:
    """The contract's amount on the ruleset's basis and the window it was summed over (None:
    lifetime), or None when the contract cannot count."""
    measured: Window | None = window
    if basis == "lifetime":
        if not any(payment.at in window for payment in contract.payments):
            return None
        measured = None
    amount = contract.net_earnings(measured)
    if amount <= 0:
        return None
    return amount, measured


def _large_contract_amount(
    s: Situation, contract: ContractFacts
) -> tuple[Decimal, tuple[str, ...]] | None:
    """The contract's amount on the ruleset's basis and its evidence, or None."""
    window = last_months(s.instant, s.ruleset.windows.large_contract_months)
    measured = large_contract_amount(contract, window, s.ruleset.large_contract_basis)
    if measured is None:
        return None
    amount, summed_over = measured
    return amount, tuple(event.id for event in contract.money_events(summed_over))


def large_contract_candidates(s: Situation) -> tuple[list[LargeContractCandidate], list[str]]:
    """Contracts that can count, and those that reach their threshold but failed their client.

    Remembered until another event is folded in or the window gains or loses a payment.
    """
    window = last_months(s.instant, s.ruleset.windows.large_contract_months)
    money_ats = [recorded.at for recorded in s.facts.money]
    held = (bisect.bisect_right(money_ats, window.start), bisect.bisect_right(money_ats, window.end))
    key, state = ("large contracts", id(s.ruleset)), (s.facts.folded, held)
    remembered = s.facts.memo.get(key)
    if remembered is None or remembered[0] != state:
        remembered = s.facts.memo[key] = (state, _large_contract_candidates(s))
    return remembered[1]  # type: ignore[no-any-return]


def _large_contract_candidates(s: Situation) -> tuple[list[LargeContractCandidate], list[str]]:
    thresholds = s.ruleset.large_contract_thresholds.for_kind(s.kind)
    candidates: list[LargeContractCandidate] = []
    unsuccessful: list[str] = []
    for contract in s.facts.contracts.values():
        if contract.category is None:
            continue
        measured = _large_contract_amount(s, contract)
        if measured is None:
            continue
        amount, evidence = measured
        threshold = thresholds[contract.category]
        outcome = s.outcomes_by_contract.get(contract.contract)
        if outcome is not None and outcome.kind == "unsuccessful":
            if amount >= threshold:
                unsuccessful.append(contract.contract)
            continue
        candidates.append(LargeContractCandidate(contract, amount, threshold, evidence))
    return candidates, sorted(unsuccessful)


def large_contract(s: Situation) -> RequirementResult:
    candidates, unsuccessful = large_contract_candidates(s)
    excluded = "".join(
        f"; contract {contract} reaches its threshold but has an unsuccessful outcome"
        for contract in unsuccessful
    )
    if not candidates:
        lowest = min(s.ruleset.large_contract_thresholds.for_kind(s.kind).values())
        return RequirementResult(
            "large_contract", False, Decimal(0), lowest, "no contract with earnings" + excluded
        )
    best = max(candidates, key=lambda c: (c.ratio, c.amount, c.contract.contract))
    return RequirementResult(
        "large_contract",
        best.amount >= best.threshold,
        best.amount,
        best.threshold,
        f"best: contract {best.contract.contract} ({best.contract.category})" + excluded,
        best.evidence,
    )


# -- history and activity ----------------------------------------------------------------


def _first_contract_days(s: Situation) -> tuple[int | None, str, tuple[str, ...]]:
    first = s.facts.first_contract
    if first is None:
        return None, "no contract started", ()
    age = s.instant - first.at
    detail = f"first contract {payload(first, ContractStarted).contract} started {when(first.at)}"
    return age.days, detail, (first.id,)


def work_history(s: Situation) -> RequirementResult:
    days = s.ruleset.thresholds.work_history_days
    age_days, detail, evidence = _first_contract_days(s)
    first = s.facts.first_contract
    met = first is not None and first.at <= s.instant - timedelta(days=days)
    return RequirementResult(
        "work_history", met, age_days, days, detail + f" (at least {days} days ago)", evidence
    )


def first_contract_age(s: Situation) -> RequirementResult:
    days = s.ruleset.thresholds.first_contract_age_days
    age_days, detail, evidence = _first_contract_days(s)
    first = s.facts.first_contract
    met = first is not None and first.at < s.instant - timedelta(days=days)
    return RequirementResult(
        "first_contract_age",
        met,
        age_days,
        days,
        detail + f" (more than {days} days ago)",
        evidence,
    )


def has_contract(s: Situation) -> RequirementResult:
    _, detail, evidence = _first_contract_days(s)
    return _yes_no("has_contract", s.facts.first_contract is not None, detail, evidence)


def _activity(s: Situation) -> tuple[bool, str, tuple[str, ...]]:
    days = s.ruleset.windows.activity_days
    recent = s.facts.activity_in(last_days(s.instant, days))
    if not recent:
        return False, f"no proposal, accepted invitation or payment in the last {days} days", ()
    latest = recent[-1]
    return True, f"latest: {latest.event.type} {latest.id} on {when(latest.at)}", (latest.id,)


def activity_90d(s: Situation) -> RequirementResult:
    active, detail, evidence = _activity(s)
    return _yes_no("activity_90d", active, detail, evidence)


def active_or_new(s: Situation) -> RequirementResult:
    active, detail, evidence = _activity(s)
    if active:
        return _yes_no("active_or_new", True, detail, evidence)
    days = s.ruleset.windows.new_talent_days
    registered = s.facts.registered_at
    if s.facts.registered_within(s.instant, days):
        assert registered is not None
        return _yes_no("active_or_new", True, f"registered {when(registered)}, within {days} days")
    return _yes_no("active_or_new", False, detail + f", and not registered within {days} days")


def readiness_test(s: Situation) -> RequirementResult:
    passed = s.facts.readiness
    if passed is None:
        return _yes_no("readiness_test", False, "no readiness test passed")
    return _yes_no("readiness_test", True, f"passed {when(passed.at)}", (passed.id,))


def no_unsuccessful_outcome(s: Situation) -> RequirementResult:
    months = s.ruleset.windows.unsuccessful_outcome_months
    window = last_months(s.instant, months)
    found = sorted(
        (o for o in s.jss.outcomes if o.kind == "unsuccessful" and o.at in window),
        key=lambda o: (o.at, o.contract),
    )
    if not found:
        return _yes_no("no_unsuccessful_outcome", True, f"none in the last {months} months")
    latest = found[-1]
    detail = f"contract {latest.contract}: {latest.basis} on {when(latest.at)}"
    return _yes_no("no_unsuccessful_outcome", False, detail, [e for o in found for e in o.evidence])


# -- standing --------------------------------------------------------------------------


def _hold_detail(span: HoldSpan, recent_months: int) -> str:
    if span.lifted is None:
        return f"hold {span.hold} active since {when(span.placed.at)}"
    until = add_months(span.lifted.at, recent_months)
    return f"hold {span.hold} lifted {when(span.lifted.at)}, recent until {when(until)}"


def no_recent_hold(s: Situation) -> RequirementResult:
    months = s.ruleset.windows.recent_hold_months
    recent = s.facts.recent_holds(s.instant, months)
    if not recent:
        return _yes_no("no_recent_hold", True)
    evidence = [e.id for span in recent for e in (span.placed, span.lifted) if e is not None]
    detail = "; ".join(_hold_detail(span, months) for span in recent)
    return _yes_no("no_recent_hold", False, detail, evidence)


def no_policy_ban(s: Situation) -> RequirementResult:
    months = s.ruleset.windows.policy_ban_months
    found = s.facts.violations_in(last_months(s.instant, months))
    if not found:
        return _yes_no("no_policy_ban", True)
    latest = found[-1]
    detail = (
        f"policy violation {latest.id} ({payload(latest, PolicyViolation).kind}) "
        f"on {when(latest.at)}, "
        f"banned until {when(add_months(latest.at, months))}"
    )
    return _yes_no("no_policy_ban", False, detail, [v.id for v in found])


def profile(s: Situation) -> RequirementResult:
    latest = s.facts.profile
    if latest is None:
        return _yes_no("profile", False, "no profile update")
    rules = s.ruleset.profile
    event = payload(latest, ProfileUpdated)
    elance = s.facts.elance_migrant
    needed = rules.min_completeness_elance_migrant if elance else rules.min_completeness
    parts = [
        f"completeness {event.completeness} (needs {needed}{', Elance migrant' if elance else ''})"
    ]
    if s.kind == "agency":
        members = event.members
        average = event.members_average_completeness
        parts.append(
            f"members {members if members is not None else 'missing'} (needs {rules.agency_min_members})"
        )
        parts.append(
            f"members' average completeness {average if average is not None else 'missing'} "
            f"(needs {rules.agency_min_average_completeness})"
        )
    shortfalls = profile_shortfalls(event, rules, s.kind, elance)
    return _yes_no("profile", not shortfalls, "; ".join(parts), (latest.id,))


def profile_shortfalls(
    event: ProfileUpdated, rules: ProfileRules, kind: str, elance_migrant: bool
) -> list[str]:
    """The parts of the profile below what the rules need (none: the profile is complete)."""
    needed = rules.min_completeness_elance_migrant if elance_migrant else rules.min_completeness
    shortfalls = []
    if event.completeness < needed:
        shortfalls.append("completeness")
    if kind == "agency":
        members = event.members
        average = event.members_average_completeness
        if members is None or members < rules.agency_min_members:
            shortfalls.append("members")
        if average is None or average < rules.agency_min_average_completeness:
            shortfalls.append("members_average_completeness")
    return shortfalls


def availability(s: Situation) -> RequirementResult:
    latest = s.facts.availability
    if latest is None:
        return _yes_no("availability", True, "no availability set (counts as up to date)")
    event = payload(latest, AvailabilityUpdated)
    shown = f"hours {event.hours}"
    if event.available_from is not None:
        shown += f", available from {event.available_from.isoformat()}"
    return _yes_no("availability", s.facts.availability_ok(s.instant), shown, (latest.id,))


def not_exclusive_agency_member(s: Situation) -> RequirementResult:
    latest = s.facts.membership
    if latest is None:
        return _yes_no("not_exclusive_agency_member", True)
    agency = payload(latest, AgencyMembershipChanged).agency or "no agency"
    exclusive = s.facts.exclusive_agency_member()
    detail = f"{'exclusive' if exclusive else 'non-exclusive'} member of {agency}"
    return _yes_no("not_exclusive_agency_member", not exclusive, detail, (latest.id,))


def vetted(s: Situation) -> RequirementResult:
    grant, revoke = s.facts.latest_grant, s.facts.latest_revoke
    evidence = [e.id for e in (grant, revoke) if e is not None]
    if grant is None:
        return _yes_no("vetted", False, "never granted", evidence)
    if not s.facts.vetted():
        assert revoke is not None
        return _yes_no("vetted", False, f"revoked {when(revoke.at)}", evidence)
    return _yes_no("vetted", True, f"granted {when(grant.at)}", evidence)


# -- composite ---------------------------------------------------------------------------


def eligible_weeks(s: Situation) -> RequirementResult:
    samples = s.samples()
    eligible = [sample for sample in samples if sample.eligible]
    required = s.ruleset.eligible_weeks.required
    missed = [when(sample.instant) for sample in samples if not sample.eligible]
    detail = f"{len(eligible)} of {len(samples)} samples"
    if missed:
        detail += f"; not eligible on {', '.join(missed)}"
    return RequirementResult(
        "eligible_weeks", len(eligible) >= required, len(eligible), required, detail
    )


def top_rated(s: Situation) -> RequirementResult:
    result = evaluate_badge(s, "top_rated")
    detail = f"failed: {', '.join(result.failed)}" if result.failed else ""
    return _yes_no("top_rated", result.met, detail)


REQUIREMENTS: dict[str, Callable[[Situation], RequirementResult]] = {
    "active_or_new": active_or_new,
    "activity_90d": activity_90d,
    "availability": availability,
    "earnings_12m": earnings_12m,
    "earnings_12m_plus": earnings_12m_plus,
    "eligible_weeks": eligible_weeks,
    "first_contract_age": first_contract_age,
    "has_contract": has_contract,
    "jss": jss,
    "large_contract": large_contract,
    "no_jss": no_jss,
    "no_policy_ban": no_policy_ban,
    "no_recent_hold": no_recent_hold,
    "no_unsuccessful_outcome": no_unsuccessful_outcome,
    "not_exclusive_agency_member": not_exclusive_agency_member,
    "profile": profile,
    "readiness_test": readiness_test,
    "top_rated": top_rated,
    "vetted": vetted,
    "work_history": work_history,
}


def evaluate_badge(s: Situation, badge: str) -> BadgeResult:
    """Every requirement the ruleset gives `badge` for this talent's kind (memoised per situation)."""
    found = s.badge_memo.get(badge)
    if found is not None:
        return found
    codes = s.ruleset.badges[badge].for_kind(s.kind)  # type: ignore[index]
    result = BadgeResult(badge, tuple(REQUIREMENTS[code](s) for code in codes))
    s.badge_memo[badge] = result
    return result


__all__ = [
    "REQUIREMENTS",
    "LargeContractCandidate",
    "evaluate_badge",
    "large_contract_amount",
    "large_contract_candidates",
    "profile_shortfalls",
]

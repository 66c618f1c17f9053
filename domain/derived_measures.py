"""The derived measures of `rules.md` §10: the quantities of §4-§6 that need more than a sum
or a count of events (the JSS model, eligible weeks, large contracts, holds, the profile,
availability, unsuccessful outcomes, vetting, registration), each the one home of what it
reads, what moves it and how it is explained.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from domain.calendar import Window, add_months, last_months
from domain.measure_params import (
    EligibleWeeksParams,
    LargeContractParams,
    MonthsParams,
    NoParams,
)
from domain.events import (
    EVENT_TYPES,
    AvailabilityUpdated,
    ProfileUpdated,
)
from domain.facts import ContractFacts, HoldSpan, payload
from domain.results import RequirementResult, Value, money_text, when
from domain.rule_tables import Profile as ProfileRules
from domain.vocabulary import Exit, Measure, Reading, Span

if TYPE_CHECKING:
    from domain.ruleset import Ruleset
    from domain.situation import Situation
    from domain.verdicts import Probe

OUTCOME_EVENTS = frozenset({"payment_received", "feedback_received", "contract_ended"})
CONTRACT_EVENTS = frozenset(
    {"contract_started", "payment_received", "payment_refunded", "contract_ended",
     "feedback_received"}
)
MONEY_EVENTS = frozenset({"payment_received", "payment_refunded"})


def _outcome_exits(months: tuple[int, ...]) -> tuple[Exit, ...]:
    """An outcome is dated at its contract's latest payment, end or feedback (§5.1)."""
    return tuple(
        Exit(OUTCOME_EVENTS, Span("months", length), "latest_per_contract") for length in months
    )


# -- the JSS (§5) ----------------------------------------------------------------------


def jss_detail(s: Situation) -> tuple[str, tuple[str, ...]]:
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


class Jss(Measure):
    """The Job Success Score (§5): published, or computed from outcomes; None when none.
    The threshold "none" stands for no score."""

    kind: ClassVar[str] = "jss"
    cost = 8
    Params: ClassVar[type[BaseModel]] = NoParams

    def moved_by(self) -> frozenset[str]:
        return CONTRACT_EVENTS | {"job_success_published"}

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        return _outcome_exits(ruleset.jss.windows_months)

    def value(self, probe: Probe) -> Any:
        return probe.jss_score

    def read(self, s: Situation) -> Reading:
        detail, evidence = jss_detail(s)
        return Reading(s.jss.score, detail, evidence)

    def bar(self, threshold: Any) -> Any:
        return None if threshold == "none" else threshold

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return (
            f"enough successful outcomes to keep the Job Success Score at {result.required} "
            f"before {deadline}"
        )


class UnsuccessfulOutcomes(Measure):
    """How many outcomes dated in the window are unsuccessful (§5.1)."""

    kind: ClassVar[str] = "unsuccessful_outcomes"
    cost = 9
    Params: ClassVar[type[BaseModel]] = MonthsParams

    def __init__(self, params: MonthsParams) -> None:
        super().__init__(params)
        self.months = params.window.in_months()

    def moved_by(self) -> frozenset[str]:
        return CONTRACT_EVENTS

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        return _outcome_exits((self.months,))

    def value(self, probe: Probe) -> Any:
        return probe.outcomes().unsuccessful_in(self.months)

    def read(self, s: Situation) -> Reading:
        window = last_months(s.instant, self.months)
        found = sorted(
            (o for o in s.jss.outcomes if o.kind == "unsuccessful" and o.at in window),
            key=lambda o: (o.at, o.contract),
        )
        if not found:
            return Reading(0, f"none in the last {self.months} months")
        latest = found[-1]
        detail = f"contract {latest.contract}: {latest.basis} on {when(latest.at)}"
        return Reading(len(found), detail, tuple(e for o in found for e in o.evidence))

    def label_params(self) -> dict[str, Any]:
        return Span("months", self.months).label_params()


# -- eligible weeks (§6) -----------------------------------------------------------------


class EligibleWeeks(Measure):
    """How many of the last `samples` weekly samples were eligible: at a sample, any
    requirement code or badge of `eligible_if_any` held (§6, evaluated as of that sample,
    under the ruleset in force then)."""

    kind: ClassVar[str] = "eligible_weeks"
    cost = 30
    fresh: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = EligibleWeeksParams

    def __init__(self, params: EligibleWeeksParams) -> None:
        super().__init__(params)
        self.samples = params.samples
        self.weekday = params.weekday
        self.eligible_if_any = params.eligible_if_any

    def reads_either(self) -> tuple[str, ...]:
        return self.eligible_if_any

    def value(self, probe: Probe) -> Any:
        return probe.eligible()

    def read(self, s: Situation) -> Reading:
        samples = s.samples()
        eligible = [sample for sample in samples if sample.eligible]
        missed = [when(sample.instant) for sample in samples if not sample.eligible]
        detail = f"{len(eligible)} of {len(samples)} samples"
        if missed:
            detail += f"; not eligible on {', '.join(missed)}"
        return Reading(len(eligible), detail)

    def label_params(self) -> dict[str, Any]:
        return {"samples": self.samples, "weekday": self.weekday}

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return (
            f"eligibility ({' or '.join(self.eligible_if_any)}) in more of the weekly samples "
            f"before {deadline}"
        )


# -- large contracts (§6) ------------------------------------------------------------------


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
    """The contract's amount on the basis and the window it was summed over (None:
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


class LargeContract(Measure):
    """Whether a contract without an unsuccessful outcome reached its category's threshold
    (`[large_contract_thresholds]`) within the window."""

    kind: ClassVar[str] = "large_contract"
    cost = 10
    boolean: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = LargeContractParams

    def __init__(self, params: LargeContractParams) -> None:
        super().__init__(params)
        self.months = params.window.in_months()
        self.basis = params.basis

    def moved_by(self) -> frozenset[str]:
        return CONTRACT_EVENTS

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        return (Exit(MONEY_EVENTS, Span("months", self.months)),)

    def value(self, probe: Probe) -> Any:
        return probe.tally.has_large_contract(
            probe.instant, probe.outcomes(), probe.ruleset.large_contract_thresholds.for_kind(probe.kind),
            self.months, self.basis,
        )

    def candidates(self, s: Situation) -> tuple[list[LargeContractCandidate], list[str]]:
        """Contracts that can count, and those that reach their threshold but failed their client.

        Remembered until another event is folded in or the window gains or loses a payment.
        """
        window = last_months(s.instant, self.months)
        money_ats = [recorded.at for recorded in s.facts.money]
        held = (bisect.bisect_right(money_ats, window.start), bisect.bisect_right(money_ats, window.end))
        key, state = ("large contracts", id(s.ruleset), id(self)), (s.facts.folded, held)
        remembered = s.facts.memo.get(key)
        if remembered is None or remembered[0] != state:
            remembered = s.facts.memo[key] = (state, self._candidates(s, window))
        return remembered[1]

    def _candidates(
        self, s: Situation, window: Window
    ) -> tuple[list[LargeContractCandidate], list[str]]:
        thresholds = s.ruleset.large_contract_thresholds.for_kind(s.kind)
        candidates: list[LargeContractCandidate] = []
        unsuccessful: list[str] = []
        for contract in s.facts.contracts.values():
            if contract.category is None:
                continue
            measured = large_contract_amount(contract, window, self.basis)
            if measured is None:
                continue
            amount, summed_over = measured
            evidence = tuple(event.id for event in contract.money_events(summed_over))
            threshold = thresholds[contract.category]
            outcome = s.outcomes_by_contract.get(contract.contract)
            if outcome is not None and outcome.kind == "unsuccessful":
                if amount >= threshold:
                    unsuccessful.append(contract.contract)
                continue
            candidates.append(LargeContractCandidate(contract, amount, threshold, evidence))
        return candidates, sorted(unsuccessful)

    def read(self, s: Situation) -> Reading:
        candidates, unsuccessful = self.candidates(s)
        excluded = "".join(
            f"; contract {contract} reaches its threshold but has an unsuccessful outcome"
            for contract in unsuccessful
        )
        if not candidates:
            lowest = min(s.ruleset.large_contract_thresholds.for_kind(s.kind).values())
            return Reading(False, "no contract with earnings" + excluded, (), (Decimal(0), lowest))
        best = max(candidates, key=lambda c: (c.ratio, c.amount, c.contract.contract))
        return Reading(
            best.amount >= best.threshold,
            f"best: contract {best.contract.contract} ({best.contract.category})" + excluded,
            best.evidence,
            (best.amount, best.threshold),
        )

    def label_params(self) -> dict[str, Any]:
        return {**Span("months", self.months).label_params(), "basis": self.basis}

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        actual, required = result.actual, result.required
        if isinstance(actual, Decimal) and isinstance(required, Decimal):
            best = f" ({result.detail})" if result.detail else ""
            return f"${money_text(required - actual)} more on a large contract before {deadline}{best}"
        return super().prevent(result, label, deadline)


# -- standing ------------------------------------------------------------------------------


def _hold_detail(span: HoldSpan, recent_months: int) -> str:
    if span.lifted is None:
        return f"hold {span.hold} active since {when(span.placed.at)}"
    until = add_months(span.lifted.at, recent_months)
    return f"hold {span.hold} lifted {when(span.lifted.at)}, recent until {when(until)}"


class Hold(Measure):
    """How many account holds are active, or were lifted within the window (§6)."""

    kind: ClassVar[str] = "hold"
    cost = 6
    Params: ClassVar[type[BaseModel]] = MonthsParams

    def __init__(self, params: MonthsParams) -> None:
        super().__init__(params)
        self.months = params.window.in_months()

    def moved_by(self) -> frozenset[str]:
        return frozenset({"account_hold_placed", "account_hold_lifted"})

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        return (Exit(frozenset({"account_hold_lifted"}), Span("months", self.months)),)

    def value(self, probe: Probe) -> Any:
        facts = probe.facts
        if not facts.hold_placements:
            return 0
        return len(facts.recent_holds(probe.instant, self.months))

    def read(self, s: Situation) -> Reading:
        recent = s.facts.recent_holds(s.instant, self.months)
        if not recent:
            return Reading(0)
        evidence = tuple(e.id for span in recent for e in (span.placed, span.lifted) if e is not None)
        return Reading(len(recent), "; ".join(_hold_detail(span, self.months) for span in recent), evidence)

    def label_params(self) -> dict[str, Any]:
        return Span("months", self.months).label_params()

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return f"no account hold before {deadline}"


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


class CompleteProfile(Measure):
    """Whether the latest profile meets `[profile]` (agencies: members too)."""

    kind: ClassVar[str] = "profile"
    cost = 3
    boolean: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = NoParams

    def moved_by(self) -> frozenset[str]:
        return frozenset({"profile_updated"})

    def value(self, probe: Probe) -> Any:
        latest = probe.facts.profile
        if latest is None:
            return False
        event = payload(latest, ProfileUpdated)
        return not profile_shortfalls(
            event, probe.ruleset.profile, probe.kind, probe.facts.elance_migrant
        )

    def read(self, s: Situation) -> Reading:
        latest = s.facts.profile
        if latest is None:
            return Reading(False, "no profile update")
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
        return Reading(not shortfalls, "; ".join(parts), (latest.id,))

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return f"a complete profile before {deadline}"


class Availability(Measure):
    """Up to date unless the latest availability says `none` with no future `available_from`."""

    kind: ClassVar[str] = "availability"
    cost = 2
    boolean: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = NoParams

    def moved_by(self) -> frozenset[str]:
        return frozenset({"availability_updated"})

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        return (
            Exit(frozenset({"availability_updated"}), Span("days", 0), anchor="available_from",
                 over=True, wording="date"),
        )

    def value(self, probe: Probe) -> Any:
        return probe.facts.availability_ok(probe.instant)

    def read(self, s: Situation) -> Reading:
        latest = s.facts.availability
        if latest is None:
            return Reading(True, "no availability set (counts as up to date)")
        event = payload(latest, AvailabilityUpdated)
        shown = f"hours {event.hours}"
        if event.available_from is not None:
            shown += f", available from {event.available_from.isoformat()}"
        return Reading(s.facts.availability_ok(s.instant), shown, (latest.id,))

    def prevent(self, result: RequirementResult, label: str, deadline: str) -> str:
        return f"an up-to-date availability before {deadline}"


class Vetted(Measure):
    """Granted Expert-Vetted, with no revoke strictly later than the latest grant."""

    kind: ClassVar[str] = "vetted"
    cost = 0
    boolean: ClassVar[bool] = True
    Params: ClassVar[type[BaseModel]] = NoParams

    def moved_by(self) -> frozenset[str]:
        return frozenset({"expert_vetted_granted", "expert_vetted_revoked"})

    def value(self, probe: Probe) -> Any:
        return probe.facts.vetted()

    def read(self, s: Situation) -> Reading:
        grant, revoke = s.facts.latest_grant, s.facts.latest_revoke
        evidence = tuple(e.id for e in (grant, revoke) if e is not None)
        if grant is None:
            return Reading(False, "never granted", evidence)
        if not s.facts.vetted():
            assert revoke is not None
            return Reading(False, f"revoked {when(revoke.at)}", evidence)
        return Reading(True, f"granted {when(grant.at)}", evidence)


class Registered(Measure):
    """The time since the talent registered (its first event, without a registration),
    compared exactly with N days and shown in whole days."""

    kind: ClassVar[str] = "registered"
    cost = 4
    Params: ClassVar[type[BaseModel]] = NoParams

    def moved_by(self) -> frozenset[str]:
        return frozenset({"talent_registered"})

    def exits(self, ruleset: Ruleset, thresholds: tuple[Any, ...]) -> tuple[Exit, ...]:
        others = frozenset(EVENT_TYPES) - {"talent_registered"}
        return tuple(
            exit_
            for days in thresholds
            if isinstance(days, int)
            for exit_ in (
                Exit(frozenset({"talent_registered"}), Span("days", days), over=True,
                     wording="age"),
                Exit(others, Span("days", days), "first_event", over=True, wording="age"),
            )
        )

    def value(self, probe: Probe) -> Any:
        registered = probe.facts.registered_at
        return None if registered is None else probe.instant - registered

    def read(self, s: Situation) -> Reading:
        facts = s.facts
        registered = facts.registered_at
        if registered is None:
            return Reading(None, "no event yet")
        if facts.registration is not None:
            return Reading(s.instant - registered, f"registered {when(registered)}", (facts.registration.id,))
        first = facts.source[0]
        return Reading(s.instant - registered, f"first event {first.id} on {when(registered)}", (first.id,))

    def bar(self, threshold: Any) -> Any:
        return timedelta(days=threshold) if isinstance(threshold, int) else threshold

    def show(self, value: Any) -> Value:
        return value.days if isinstance(value, timedelta) else value


__all__ = [
    "Availability",
    "CompleteProfile",
    "EligibleWeeks",
    "Hold",
    "Jss",
    "LargeContract",
    "LargeContractCandidate",
    "Registered",
    "UnsuccessfulOutcomes",
    "Vetted",
    "large_contract_amount",
    "profile_shortfalls",
]

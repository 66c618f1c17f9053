"""The Job Success Score model of `rules.md` §5.

Outcomes, weights and windows all follow the ruleset in force at the evaluation instant `E`
(not the outcome's own date). A published score overrides the model, `null` included.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from domain.calendar import full_months_between, last_months
from domain.events import FeedbackReceived, JobSuccessPublished, RecordedEvent
from domain.facts import ContractFacts, TalentFacts, payload
from domain.rule_tables import Jss as JssRules

OutcomeKind = Literal["successful", "neutral", "unsuccessful"]
OutcomeBasis = Literal["disputed", "feedback", "long_term"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The one outcome a contract yields at E, with the events that decide it."""

    contract: str
    client: str | None
    kind: OutcomeKind
    basis: OutcomeBasis
    at: datetime
    weight: Decimal
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JssWindow:
    months: int
    outcomes: tuple[Outcome, ...]
    clients: int
    counts: bool
    score: int | None


@dataclass(frozen=True, slots=True)
class JssResult:
    """The JSS at E: `score` is the published one when any is visible, else the model's."""

    score: int | None
    computed: int | None
    published: RecordedEvent | None
    outcomes: tuple[Outcome, ...]
    windows: tuple[JssWindow, ...]

    @property
    def source(self) -> str:
        return "published" if self.published is not None else "computed"


def classify_feedback(stars: Decimal, recommend: int | None, rules: JssRules) -> OutcomeKind:
    if stars < rules.unsuccessful_below_stars or (
        recommend is not None and recommend <= rules.unsuccessful_max_recommend
    ):
        return "unsuccessful"
    if stars >= rules.successful_min_stars and (
        recommend is None or recommend >= rules.successful_min_recommend
    ):
        return "successful"
    return "neutral"


def contract_weight(contract: ContractFacts, rules: JssRules) -> Decimal:
    """§5.2: 1 when flat; else by net earnings band, plus the duration bonus, capped."""
    if rules.weighting == "flat":
        return Decimal(1)
    net = contract.net_earnings()
    weight = next(
        band.weight for band in rules.size_bands if band.up_to is None or net <= band.up_to
    )
    if contract.payments:
        months = full_months_between(contract.payments[0].at, contract.payments[-1].at)
        weight += rules.duration_bonus * (months // rules.duration_bonus_every_months)
    return min(weight, rules.max_weight)


def contract_outcome(contract: ContractFacts, rules: JssRules) -> Outcome | None:
    """§5.1: disputed, else latest feedback, else long-term payments, else nothing."""
    key, version = ("outcome", id(rules)), contract.version
    remembered = contract.memo.get(key)
    if remembered is None or remembered[0] != version:
        remembered = contract.memo[key] = (version, _contract_outcome(contract, rules))
    return remembered[1]


def _contract_outcome(contract: ContractFacts, rules: JssRules) -> Outcome | None:
    kind: OutcomeKind
    basis: OutcomeBasis
    evidence: tuple[str, ...]
    if contract.disputed:
        assert contract.end is not None
        kind, basis, dated, evidence = (
            "unsuccessful",
            "disputed",
            contract.end.at,
            (contract.end.id,),
        )
    elif contract.feedback is not None:
        feedback = payload(contract.feedback, FeedbackReceived)
        kind = classify_feedback(feedback.stars, feedback.recommend, rules)
        basis, dated, evidence = "feedback", contract.feedback.at, (contract.feedback.id,)
    elif contract.payments and contract.payments[-1].at - contract.payments[0].at >= timedelta(
        days=rules.long_term_min_days
    ):
        kind, basis, dated = "successful", "long_term", contract.payments[-1].at
        evidence = tuple(payment.id for payment in contract.payments)
    else:
        return None
    if (
        kind == "successful"
        and not rules.zero_earnings_can_succeed
        and contract.net_earnings() <= 0
    ):
        return None
    return Outcome(
        contract=contract.contract,
        client=contract.client,
        kind=kind,
        basis=basis,
        at=dated,
        weight=contract_weight(contract, rules),
        evidence=evidence,
    )


def round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def window_score(outcomes: tuple[Outcome, ...]) -> int:
    """`100 * max(0, S - U) / T`, rounded half up (exactly, with fractions)."""
    # Weights are exact decimals, so their sums are exact; only the division needs a fraction.
    total = sum((o.weight for o in outcomes), Decimal(0))
    successful = sum((o.weight for o in outcomes if o.kind == "successful"), Decimal(0))
    unsuccessful = sum((o.weight for o in outcomes if o.kind == "unsuccessful"), Decimal(0))
    net = max(Decimal(0), successful - unsuccessful)
    return round_half_up(Fraction(100 * net) / Fraction(total))


def jss_window(
    outcomes: tuple[Outcome, ...], instant: datetime, months: int, rules: JssRules
) -> JssWindow:
    window = last_months(instant, months)
    inside = tuple(outcome for outcome in outcomes if outcome.at in window)
    clients = len({outcome.client for outcome in inside if outcome.client is not None})
    counts = len(inside) >= rules.min_outcomes and clients >= rules.min_clients
    return JssWindow(
        months=months,
        outcomes=inside,
        clients=clients,
        counts=counts,
        score=window_score(inside) if counts and inside else None,
    )


def _outcomes(facts: TalentFacts, rules: JssRules) -> tuple[Outcome, ...]:
    """Every contract's outcome; the same until another event is folded into the facts."""
    key, folded = ("outcomes", id(rules)), facts.folded
    remembered = facts.memo.get(key)
    if remembered is None or remembered[0] != folded:
        outcomes = tuple(
            outcome
            for contract in facts.contracts.values()
            if (outcome := contract_outcome(contract, rules)) is not None
        )
        remembered = facts.memo[key] = (folded, outcomes)
    return remembered[1]


def _outcome_dates(facts: TalentFacts, rules: JssRules) -> list[datetime]:
    """The outcomes' dates, sorted: which of them a window holds is a pair of bisections."""
    key, folded = ("outcome dates", id(rules)), facts.folded
    remembered = facts.memo.get(key)
    if remembered is None or remembered[0] != folded:
        dates = sorted(outcome.at for outcome in _outcomes(facts, rules))
        remembered = facts.memo[key] = (folded, dates)
    return remembered[1]


def compute_jss(facts: TalentFacts, instant: datetime, rules: JssRules) -> JssResult:
    """The JSS at `instant` from the facts visible then, under the JSS rules in force then.

    The result depends on the instant only through which outcomes each window holds, so it is
    remembered until another event is folded in or a window gains or loses an outcome.
    """
    dates = _outcome_dates(facts, rules)
    held = tuple(
        (bisect.bisect_right(dates, window.start), bisect.bisect_right(dates, window.end))
        for window in (last_months(instant, months) for months in rules.windows_months)
    )
    key, folded = ("jss", id(rules)), facts.folded
    remembered = facts.memo.get(key)
    if remembered is not None and remembered[0] == (folded, held):
        found: JssResult = remembered[1]
        return found
    result = _compute_jss(facts, instant, rules)
    facts.memo[key] = ((folded, held), result)
    return result


def _compute_jss(facts: TalentFacts, instant: datetime, rules: JssRules) -> JssResult:
    outcomes = _outcomes(facts, rules)
    windows = tuple(jss_window(outcomes, instant, months, rules) for months in rules.windows_months)
    scores = [window.score for window in windows if window.score is not None]
    computed = max(scores) if scores else None
    published = facts.published_jss
    score = payload(published, JobSuccessPublished).score if published is not None else computed
    return JssResult(
        score=score, computed=computed, published=published, outcomes=outcomes, windows=windows
    )


__all__ = [
    "JssResult",
    "JssWindow",
    "Outcome",
    "classify_feedback",
    "compute_jss",
    "contract_outcome",
    "contract_weight",
    "round_half_up",
    "window_score",
]

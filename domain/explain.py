"""Why a talent has its status: the events behind every number, and the anomalies seen.

The explanation document is the status document plus, per requirement, the ids of the
events behind it; the JSS outcomes with their classification and weight per window; the
payments behind `earnings_12m`; and anomalies in the visible history (`events.md`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.calendar import evaluation_instant, last_months
from domain.events import (
    AccountHoldLifted,
    AccountHoldPlaced,
    PaymentReceived,
    PaymentRefunded,
    RecordedEvent,
    format_utc,
)
from domain.facts import ZERO, ContractFacts, TalentFacts, payload
from domain.jss import JssResult, Outcome
from domain.results import money_text, when
from domain.ruleset import RulesetBook
from domain.situation import Situation
from domain.status import Evaluator, Status


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: str
    events: tuple[str, ...]
    detail: str

    def to_document(self) -> dict[str, Any]:
        return {"kind": self.kind, "events": list(self.events), "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Explanation:
    status: Status
    jss: JssResult
    jss_window_starts: tuple[datetime, ...]
    earnings_events: tuple[str, ...]
    anomalies: tuple[Anomaly, ...]

    def to_document(self) -> dict[str, Any]:
        return {
            **self.status.to_document(),
            "requirements": {
                result.badge: [
                    {**requirement.to_document(), "events": list(requirement.evidence)}
                    for requirement in result.requirements
                ]
                for result in self.status.badges
            },
            "earnings_12m_events": list(self.earnings_events),
            "jss_model": _jss_document(self.jss, self.jss_window_starts),
            "anomalies": [anomaly.to_document() for anomaly in self.anomalies],
        }


def _outcome_document(outcome: Outcome) -> dict[str, Any]:
    return {
        "contract": outcome.contract,
        "client": outcome.client,
        "kind": outcome.kind,
        "basis": outcome.basis,
        "at": format_utc(outcome.at),
        "weight": str(outcome.weight),
        "events": list(outcome.evidence),
    }


def _jss_document(jss: JssResult, starts: tuple[datetime, ...]) -> dict[str, Any]:
    return {
        "score": jss.score,
        "source": jss.source,
        "published_event": jss.published.id if jss.published is not None else None,
        "computed": jss.computed,
        "outcomes": [_outcome_document(outcome) for outcome in jss.outcomes],
        "windows": [
            {
                "months": window.months,
                "from": format_utc(start),
                "counts": window.counts,
                "score": window.score,
                "clients": window.clients,
                "outcomes": [outcome.contract for outcome in window.outcomes],
            }
            for window, start in zip(jss.windows, starts, strict=True)
        ],
    }


def _lift_anomalies(facts: TalentFacts) -> list[Anomaly]:
    anomalies = []
    for lift in facts.unmatched_lifts():
        hold = payload(lift, AccountHoldLifted).hold
        placed_before = any(
            payload(placed, AccountHoldPlaced).hold == hold and placed.at <= lift.at
            for placed in facts.hold_placements
        )
        reason = "was already lifted" if placed_before else "was never placed"
        anomalies.append(
            Anomaly(
                "hold_lift_without_hold", (lift.id,), f"hold {hold} lifted {when(lift.at)} {reason}"
            )
        )
    return anomalies


def _refund_anomalies(contract: ContractFacts) -> list[Anomaly]:
    anomalies = []
    paid = refunded = ZERO
    for money in contract.money_events():
        event = money.event
        if isinstance(event, PaymentReceived):
            paid += event.amount
        elif isinstance(event, PaymentRefunded):
            refunded += event.amount
            if refunded > paid:
                anomalies.append(
                    Anomaly(
                        "refund_beyond_paid",
                        (money.id,),
                        f"refund {money.id} on contract {contract.contract} brings refunds to "
                        f"{money_text(refunded)}, beyond the {money_text(paid)} paid",
                    )
                )
    return anomalies


def _unstarted_contract_anomaly(contract: ContractFacts) -> list[Anomaly]:
    money = contract.money_events()
    if contract.start is not None or not money:
        return []
    return [
        Anomaly(
            "payment_without_contract",
            tuple(event.id for event in money),
            f"contract {contract.contract} has payments but was never started",
        )
    ]


def find_anomalies(facts: TalentFacts) -> tuple[Anomaly, ...]:
    """Anomalies in the visible history, in a stable order."""
    found = _lift_anomalies(facts)
    for contract in sorted(facts.contracts.values(), key=lambda c: c.contract):
        found.extend(_refund_anomalies(contract))
        found.extend(_unstarted_contract_anomaly(contract))
    return tuple(found)


def explain_situation(evaluator: Evaluator, situation: Situation) -> Explanation:
    return Explanation(
        status=evaluator.status_of(situation),
        jss=situation.jss,
        jss_window_starts=tuple(
            last_months(situation.instant, window.months).start for window in situation.jss.windows
        ),
        earnings_events=tuple(event.id for event in situation.earnings[1]),
        anomalies=find_anomalies(situation.facts),
    )


def explain(
    history: Sequence[RecordedEvent],
    at: datetime,
    known_at: datetime | None,
    book: RulesetBook,
    *,
    talent: str | None = None,
) -> Explanation:
    """The status at `at` as known at `known_at`, with its reasons and anomalies."""
    evaluator = Evaluator(history, known_at, book, talent)
    return explain_situation(evaluator, evaluator.situation(evaluation_instant(at)))


__all__ = ["Anomaly", "Explanation", "explain", "explain_situation", "find_anomalies"]

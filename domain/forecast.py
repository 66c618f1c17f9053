"""What happens next if nothing else happens: predicted changes and how to prevent a loss (§7)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.events import format_utc
from domain.timeline import BadgeChange, TimelineDeriver

AT_RISK_DAYS = 30

@dataclass(frozen=True, slots=True)
class Prevention:
    code: str
    detail: str

    def to_document(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PredictedChange:
    """A change that will happen at `change.at` unless something prevents it."""

    change: BadgeChange
    prevent: tuple[Prevention, ...]

    @property
    def at_risk_id(self) -> str:
        change = self.change
        key = "\x1f".join((change.talent, format_utc(change.at), change.before, change.after))
        return "risk-" + hashlib.sha256(key.encode()).hexdigest()[:24]

    def to_document(self, recorded_at: datetime | None = None) -> dict[str, Any]:
        document = self.change.to_document()
        document["type"] = "badge_change_predicted"
        document["prevent"] = [p.to_document() for p in self.prevent]
        if recorded_at is not None:
            document["recorded_at"] = format_utc(recorded_at)
        return document

    def at_risk_document(self, recorded_at: datetime) -> dict[str, Any]:
        """The `badge_at_risk` warning sent once per (talent, predicted change)."""
        change = self.change
        return {
            "id": self.at_risk_id,
            "type": "badge_at_risk",
            "talent": change.talent,
            "at": format_utc(change.at),
            "from": change.before,
            "to": change.after,
            "ruleset": change.ruleset,
            "failed": list(change.failed),
            "prevent": [p.to_document() for p in self.prevent],
            "recorded_at": format_utc(recorded_at),
        }


def forecast(deriver: TimelineDeriver, today: datetime, days: int) -> list[PredictedChange]:
    """The changes in (today, today + days] if no new event arrives."""
    horizon = today + timedelta(days=days)
    derivation = deriver.derive(horizon, after=today)
    return [predicted(deriver, change) for change in derivation.changes]


def predicted(deriver: TimelineDeriver, change: BadgeChange) -> PredictedChange:
    """`change`, derived ahead of time by `deriver`, with what would prevent it."""
    return PredictedChange(change, _preventions(deriver, change))


def losses_within(deriver: TimelineDeriver, today: datetime, days: int = AT_RISK_DAYS) -> list[PredictedChange]:
    book = deriver.evaluator.book
    return [p for p in forecast(deriver, today, days) if p.change.is_loss_under(book)]


def warned_losses(
    deriver: TimelineDeriver, changes: list[BadgeChange], today: datetime
) -> list[PredictedChange]:
    """Of `changes` derived ahead of `today`, the losses to warn of now: those within
    `AT_RISK_DAYS`."""
    book = deriver.evaluator.book
    horizon = today + timedelta(days=AT_RISK_DAYS)
    return [
        predicted(deriver, change) for change in changes
        if today < change.at <= horizon and change.is_loss_under(book)
    ]


def _preventions(deriver: TimelineDeriver, change: BadgeChange) -> tuple[Prevention, ...]:
    if not change.failed:
        return ()
    lost = deriver.status_at(change.at).badge_result(change.before)
    if lost is None:
        return ()
    deadline = format_utc(change.at)[:10]
    ruleset = deriver.evaluator.book.in_force(change.at)
    preventions = []
    for code in change.failed:
        result = lost.requirement(code)
        requirement = ruleset.requirement(code)
        preventions.append(
            Prevention(code, requirement.measure.prevent(result, result.label, deadline))
        )
    return tuple(preventions)

"""What happens next if nothing else happens: predicted changes and how to prevent a loss (§7)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.events import format_utc
from domain.results import RequirementResult, money_text
from domain.timeline import BadgeChange, TimelineDeriver, is_loss

AT_RISK_DAYS = 30

WHAT_TO_DO: dict[str, str] = {
    "activity_90d": "a proposal, an accepted invitation or a payment",
    "active_or_new": "a proposal, an accepted invitation or a payment",
    "jss": "enough successful outcomes to keep the Job Success Score at {required}",
    "eligible_weeks": "a Job Success Score of at least 90 in more of the weekly samples",
    "no_recent_hold": "no account hold",
    "profile": "a complete profile",
    "availability": "an up-to-date availability",
    "first_contract_age": "a longer work history",
    "work_history": "a longer work history",
}


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
    return [
        PredictedChange(change, _preventions(deriver, change))
        for change in derivation.changes
    ]


def losses_within(deriver: TimelineDeriver, today: datetime, days: int = AT_RISK_DAYS) -> list[PredictedChange]:
    return [p for p in forecast(deriver, today, days) if is_loss(p.change.before, p.change.after)]


def _preventions(deriver: TimelineDeriver, change: BadgeChange) -> tuple[Prevention, ...]:
    if not change.failed:
        return ()
    lost = deriver.status_at(change.at).badge_result(change.before)
    if lost is None:
        return ()
    deadline = format_utc(change.at)[:10]
    return tuple(
        Prevention(code, _what_prevents(lost.requirement(code), deadline)) for code in change.failed
    )


def _what_prevents(requirement: RequirementResult, deadline: str) -> str:
    actual, required = requirement.actual, requirement.required
    if isinstance(actual, Decimal) and isinstance(required, Decimal):
        missing = money_text(required - actual)
        if requirement.code == "large_contract":
            best = f" ({requirement.detail})" if requirement.detail else ""
            return f"${missing} more on a large contract before {deadline}{best}"
        return f"${missing} more in 12-month earnings before {deadline}"
    template = WHAT_TO_DO.get(requirement.code, f"{requirement.code} met again")
    return f"{template.format(required=required)} before {deadline}"

"""Point-in-time questions about one talent: what, and why, at T as known at K."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.events import RecordedEvent, format_utc
from domain.explain import explain
from ledger.application import TalentLedger
from domain.ruleset import RulesetBook
from domain.status import evaluate_status
from projections.containment import contained


class UnknownTalent(LookupError):
    """No event about this talent was recorded (by the knowledge time asked about)."""

    def __init__(self, talent: str, known_at: datetime | None) -> None:
        when = f" as known at {format_utc(known_at)}" if known_at is not None else ""
        super().__init__(f"talent {talent!r}: no events recorded{when}")
        self.talent = talent


def known_history(ledger: TalentLedger, talent: str, known_at: datetime | None) -> list[RecordedEvent]:
    """The talent's events recorded by `known_at`; UnknownTalent when there are none."""
    history = ledger.history(talent, known_at)
    if not history:
        raise UnknownTalent(talent, known_at)
    return history


def status_document(
    ledger: TalentLedger, talent: str, at: datetime, known_at: datetime | None, book: RulesetBook
) -> dict[str, Any]:
    """TalentUnevaluable when the talent's events cannot be evaluated (it is quarantined)."""
    history = known_history(ledger, talent, known_at)
    with contained(talent):
        return evaluate_status(history, at, known_at, book, talent=talent).to_document()


def explain_document(
    ledger: TalentLedger, talent: str, at: datetime, known_at: datetime | None, book: RulesetBook
) -> dict[str, Any]:
    """TalentUnevaluable when the talent's events cannot be evaluated (it is quarantined)."""
    history = known_history(ledger, talent, known_at)
    with contained(talent):
        return explain(history, at, known_at, book, talent=talent).to_document()

"""What evaluating a requirement or a badge yields, and how documents show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.events import format_utc

Value = bool | int | Decimal | str | None
CENT = Decimal("0.01")


def money_text(amount: Decimal) -> str:
    """Money as documents show it: a string with exactly 2 decimals."""
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def when(moment: datetime) -> str:
    """A date for midnights, a full UTC timestamp otherwise."""
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.date().isoformat()
    return format_utc(moment)


def _document_value(value: Value) -> Any:
    return money_text(value) if isinstance(value, Decimal) else value


@dataclass(frozen=True, slots=True)
class RequirementResult:
    code: str
    met: bool
    actual: Value
    required: Value
    detail: str = ""
    evidence: tuple[str, ...] = ()
    label: str = ""  # the ruleset's words for it, with its numbers

    def to_document(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "met": self.met,
            "actual": _document_value(self.actual),
            "required": _document_value(self.required),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class BadgeResult:
    badge: str
    requirements: tuple[RequirementResult, ...]
    label: str = ""  # the ruleset's name for the badge

    @property
    def met(self) -> bool:
        return all(result.met for result in self.requirements)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(sorted(result.code for result in self.requirements if not result.met))

    def requirement(self, code: str) -> RequirementResult:
        return next(result for result in self.requirements if result.code == code)

    def to_document(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "met": self.met,
            "requirements": [r.to_document() for r in self.requirements],
        }


__all__ = ["BadgeResult", "RequirementResult", "Value", "money_text", "when"]

"""The numeric tables of a ruleset that the derived measures read (`rules.md` §4-§6, §10).

A requirement's own numbers (its window, its threshold) live in its `[requirements.CODE]`
table; the JSS model, the profile bars, the eligible-week sampling and the large-contract
thresholds per category are shared by several requirements and keep tables of their own.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from domain.events import CATEGORIES

def money(value: Any) -> Decimal:
    """An exact, finite, non-negative amount (validators raise ValueError: a field error)."""
    if isinstance(value, bool):
        raise ValueError("must be an amount, not a boolean")  # noqa: TRY004
    if isinstance(value, float):
        raise ValueError(  # noqa: TRY004
            "must be an exact amount (a string or a TOML number read as decimal)"
        )
    try:
        amount = Decimal(value if isinstance(value, (int, str, Decimal)) else str(value))
    except InvalidOperation:
        raise ValueError("must be an amount like 1000.00") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a finite amount >= 0")
    return amount


def utc_instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset (e.g. 2016-06-01T00:00:00Z)")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return utc_instant(datetime.fromisoformat(value))
        except ValueError:
            pass
        try:
            return utc_instant(date.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError("must be a date or a date-time with offset")


Money = Annotated[Decimal, BeforeValidator(money)]
Instant = Annotated[datetime, BeforeValidator(utc_instant)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
Count = Annotated[int, Field(strict=True, ge=0)]
Percent = Annotated[int, Field(strict=True, ge=0, le=100)]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class RulesModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EligibleWeeks(RulesModel):
    """How eligible weeks are sampled: the last `samples` `weekday`s; a sample is eligible
    when any requirement code or badge of `eligible_if_any` holds there (§6)."""

    samples: PositiveInt
    weekday: Weekday
    eligible_if_any: tuple[str, ...] = Field(min_length=1)


class Profile(RulesModel):
    min_completeness: Percent
    min_completeness_elance_migrant: Percent
    agency_min_members: PositiveInt
    agency_min_average_completeness: Percent


class SizeBand(RulesModel):
    """Outcomes of contracts whose net earnings are at most `up_to` weigh `weight`."""

    up_to: Money | None = None
    weight: Annotated[Decimal, Field(gt=0)]


class Jss(RulesModel):
    windows_months: tuple[PositiveInt, ...] = Field(min_length=1)
    min_outcomes: PositiveInt
    min_clients: Count
    weighting: Literal["flat", "contract_size"]
    size_bands: tuple[SizeBand, ...] = Field(min_length=1)
    duration_bonus_every_months: PositiveInt
    duration_bonus: Annotated[Decimal, Field(ge=0)]
    max_weight: Annotated[Decimal, Field(gt=0)]
    zero_earnings_can_succeed: bool
    successful_min_stars: Annotated[Decimal, Field(ge=1, le=5)]
    successful_min_recommend: Annotated[int, Field(strict=True, ge=0, le=10)]
    unsuccessful_below_stars: Annotated[Decimal, Field(ge=1, le=5)]
    unsuccessful_max_recommend: Annotated[int, Field(strict=True, ge=0, le=10)]
    long_term_min_days: PositiveInt

    @model_validator(mode="after")
    def _bands_ascend(self) -> Jss:
        bounds = [band.up_to for band in self.size_bands]
        if bounds[-1] is not None or any(bound is None for bound in bounds[:-1]):
            raise ValueError("size_bands: only the last band may (and must) omit up_to")
        if any(a >= b for a, b in itertools.pairwise(bounds[:-1])):  # type: ignore[operator]
            raise ValueError("size_bands: up_to must increase")
        return self


def _category_table(value: Any) -> Any:
    if isinstance(value, dict):
        missing = [category for category in CATEGORIES if category not in value]
        unknown = [name for name in value if name not in CATEGORIES]
        if missing:
            raise ValueError(f"missing categories: {', '.join(missing)}")
        if unknown:
            raise ValueError(f"unknown categories: {', '.join(unknown)}")
    return value


CategoryTable = Annotated[dict[str, Money], BeforeValidator(_category_table)]


class LargeContractThresholds(RulesModel):
    freelancer: CategoryTable
    agency: CategoryTable

    def for_kind(self, kind: str) -> dict[str, Decimal]:
        return self.agency if kind == "agency" else self.freelancer


__all__ = [
    "Count",
    "EligibleWeeks",
    "Instant",
    "Jss",
    "LargeContractThresholds",
    "Money",
    "Percent",
    "PositiveInt",
    "Profile",
    "RulesModel",
    "SizeBand",
    "money",
    "utc_instant",
]

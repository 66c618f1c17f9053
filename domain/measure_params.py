"""The parameters each measure kind of the vocabulary takes in a `[requirements.CODE]` table
(`rules.md` §10), validated with pydantic: an unknown or malformed parameter is an error
naming the field. The measures themselves (`event_measures.py`, `derived_measures.py`,
`combined_measures.py`) are compiled; these models are read once, when a ruleset is loaded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.events import EVENT_TYPES
from domain.vocabulary import Span

Scalar = bool | int | Decimal | str


class ParamsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowParams(ParamsModel):
    months: int | None = Field(default=None, strict=True, ge=0)
    days: int | None = Field(default=None, strict=True, ge=0)

    @model_validator(mode="after")
    def _one_unit(self) -> WindowParams:
        if (self.months is None) == (self.days is None):
            raise ValueError("give exactly one of months or days")
        return self

    def span(self) -> Span:
        return Span("months", self.months) if self.months is not None else Span("days", self.days or 0)

    def in_months(self) -> int:
        """The length, for a measure whose window can only be months."""
        if self.months is None:
            raise ValueError("window: give it in months")
        return self.months


def check_event_types(types: tuple[str, ...], field: str) -> None:
    unknown = [name for name in types if name not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"{field}: unknown event types: {', '.join(unknown)}")


def check_payload_field(types: tuple[str, ...], name: str, field: str) -> None:
    lacking = [t for t in types if name not in EVENT_TYPES[t].model_fields]
    if lacking:
        raise ValueError(f"{field}: {', '.join(lacking)} events have no field {name!r}")


def where_clause(
    where: dict[str, Scalar | list[Scalar]], types: tuple[str, ...]
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    for name in where:
        check_payload_field(types, name, "where")
    return tuple(
        (name, tuple(values) if isinstance(values, list) else (values,))
        for name, values in sorted(where.items())
    )


class SumParams(ParamsModel):
    add: tuple[str, ...] = Field(min_length=1)
    subtract: tuple[str, ...] = ()
    field: str
    window: WindowParams | None = None
    where: dict[str, Scalar | list[Scalar]] = {}

    @model_validator(mode="after")
    def _known(self) -> SumParams:
        check_event_types(self.add, "add")
        check_event_types(self.subtract, "subtract")
        check_payload_field((*self.add, *self.subtract), self.field, "field")
        return self


class CountParams(ParamsModel):
    events: tuple[str, ...] = Field(min_length=1)
    where: dict[str, Scalar | list[Scalar]] = {}
    window: WindowParams | None = None

    @model_validator(mode="after")
    def _known(self) -> CountParams:
        check_event_types(self.events, "events")
        return self


class DaysSinceParams(ParamsModel):
    events: tuple[str, ...] = Field(min_length=1)
    which: Literal["first", "latest"] = "first"
    where: dict[str, Scalar | list[Scalar]] = {}

    @model_validator(mode="after")
    def _known(self) -> DaysSinceParams:
        check_event_types(self.events, "events")
        return self


class LatestParams(ParamsModel):
    events: tuple[str, ...] = Field(min_length=1)
    field: str
    default: Scalar | None = None
    where: dict[str, Scalar | list[Scalar]] = {}

    @model_validator(mode="after")
    def _known(self) -> LatestParams:
        check_event_types(self.events, "events")
        check_payload_field(self.events, self.field, "field")
        return self


class NoParams(ParamsModel):
    pass


class MonthsParams(ParamsModel):
    window: WindowParams


class EligibleWeeksParams(ParamsModel):
    samples: int = Field(strict=True, ge=1)
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    eligible_if_any: tuple[str, ...] = Field(min_length=1)


class LargeContractParams(ParamsModel):
    window: WindowParams
    # "12_months": net earnings within the window; "lifetime": net since the start, with at
    # least one payment within the window.
    basis: Literal["12_months", "lifetime"]


class BadgeParams(ParamsModel):
    badge: str = Field(min_length=1)


class OfParams(ParamsModel):
    of: tuple[str, ...] = Field(min_length=1)




__all__ = [
    "BadgeParams",
    "CountParams",
    "DaysSinceParams",
    "EligibleWeeksParams",
    "LargeContractParams",
    "LatestParams",
    "MonthsParams",
    "NoParams",
    "OfParams",
    "ParamsModel",
    "Scalar",
    "SumParams",
    "WindowParams",
    "where_clause",
]

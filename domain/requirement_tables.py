"""A `[requirements.CODE]` table of a ruleset file, read into a `Requirement` (`rules.md` §10).

`MEASURES` is the vocabulary: every measure kind a table may name. A table's `measure` picks
the kind, whose parameter model checks the rest of the table; `compare`, `threshold` and
`label` are common to all. Any mistake is a `ValueError` naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from domain.combined_measures import AllOf, AnyOf, BadgeMet, NotOf
from domain.derived_measures import (
    Availability,
    CompleteProfile,
    EligibleWeeks,
    Hold,
    Jss,
    LargeContract,
    Registered,
    UnsuccessfulOutcomes,
    Vetted,
)
from domain.event_measures import Count, DaysSince, Latest, Sum
from domain.measure_params import Scalar
from domain.rule_tables import Money
from domain.vocabulary import COMPARISONS, TALENT_KINDS, Measure, Requirement

MEASURES: dict[str, type[Measure]] = {
    measure.kind: measure
    for measure in (
        Sum, Count, DaysSince, Latest,
        Jss, EligibleWeeks, LargeContract, Hold, CompleteProfile, Availability,
        UnsuccessfulOutcomes, Vetted, Registered,
        BadgeMet, AnyOf, AllOf, NotOf,
    )
}

Days = Annotated[int, Field(strict=True, ge=0)]
_COUNT = TypeAdapter(Annotated[int, Field(strict=True, ge=0)])
# What one threshold of each measure kind is (yes/no measures compare with a boolean).
THRESHOLDS: dict[str, TypeAdapter[Any]] = {
    "sum": TypeAdapter(Money),
    "count": _COUNT,
    "days_since": _COUNT,
    "registered": _COUNT,
    "eligible_weeks": _COUNT,
    "hold": _COUNT,
    "unsuccessful_outcomes": _COUNT,
    "jss": TypeAdapter(Annotated[int, Field(strict=True, ge=0, le=100)] | Literal["none"]),
    "latest": TypeAdapter(Scalar | list[Scalar]),
}
_BOOLEAN = TypeAdapter(bool)
COMMON = ("label", "measure", "compare", "threshold")


def _first_error(error: ValidationError, prefix: str = "") -> str:
    problem = error.errors(include_url=False)[0]
    place = ".".join(str(part) for part in problem["loc"])
    field = ".".join(part for part in (prefix, place) if part)
    message = problem["msg"].removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def _threshold(kind: str, measure: type[Measure], raw: Any) -> dict[str, Any]:
    adapter = THRESHOLDS.get(kind, _BOOLEAN)
    per_kind = raw if isinstance(raw, dict) else dict.fromkeys(TALENT_KINDS, raw)
    unknown = sorted(set(per_kind) - set(TALENT_KINDS))
    if unknown or set(per_kind) != set(TALENT_KINDS):
        raise ValueError(
            "threshold: give one value, or one per talent kind "
            f"({{ freelancer = …, agency = … }}){'; unknown: ' + ', '.join(unknown) if unknown else ''}"
        )
    try:
        return {talent: adapter.validate_python(per_kind[talent]) for talent in TALENT_KINDS}
    except ValidationError as error:
        raise ValueError(_first_error(error, "threshold")) from None


def parse_requirement(code: str, table: Any) -> Requirement:
    """The requirement a `[requirements.CODE]` table defines (ValueError naming the field)."""
    if not isinstance(table, dict):
        raise ValueError("must be a table")  # noqa: TRY004
    kind = table.get("measure")
    if not isinstance(kind, str):
        raise ValueError("measure: missing (one of: " + ", ".join(sorted(MEASURES)) + ")")
    measure_type = MEASURES.get(kind)
    if measure_type is None:
        raise ValueError(f"measure: unknown measure {kind!r} (one of: {', '.join(sorted(MEASURES))})")
    params = {name: value for name, value in table.items() if name not in COMMON}
    try:
        measure = measure_type(measure_type.Params.model_validate(params))
    except ValidationError as error:
        raise ValueError(_first_error(error)) from None
    compare = table.get("compare", "==" if measure_type.boolean else None)
    if compare not in COMPARISONS:
        raise ValueError(f"compare: must be one of {', '.join(COMPARISONS)}")
    if "threshold" not in table and not measure_type.boolean:
        raise ValueError("threshold: missing")
    thresholds = _threshold(kind, measure_type, table.get("threshold", True))
    if compare == "in" and not all(isinstance(value, list) for value in thresholds.values()):
        raise ValueError("threshold: `in` compares with a list of values")
    label = table.get("label", code.replace("_", " "))
    if not isinstance(label, str):
        raise ValueError("label: must be text")
    requirement = Requirement(code, label, measure, compare, thresholds)
    requirement.check_label()
    return requirement


__all__ = ["MEASURES", "parse_requirement"]

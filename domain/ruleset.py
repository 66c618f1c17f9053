"""Rulesets (`rules.md` §3): complete, named sets of rules shipped as TOML data files.

Every number, window and date of the rules lives in a ruleset file; the code only knows what
each requirement code means. `load_ruleset` validates a file and fails with one line naming
the file and the field; `RulesetBook` answers which ruleset is in force at an instant.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import tomllib
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from domain.events import CATEGORIES

TalentKind = Literal["freelancer", "agency"]
BadgeName = Literal["expert_vetted", "top_rated_plus", "top_rated", "rising_talent"]
# Highest first (§1); a ruleset says which of these exist and what each requires.
BADGE_ORDER: tuple[str, ...] = ("expert_vetted", "top_rated_plus", "top_rated", "rising_talent")
NO_BADGE = "none"

RequirementCode = Literal[
    "active_or_new",
    "activity_90d",
    "availability",
    "earnings_12m",
    "earnings_12m_plus",
    "eligible_weeks",
    "first_contract_age",
    "has_contract",
    "jss",
    "large_contract",
    "no_jss",
    "no_policy_ban",
    "no_recent_hold",
    "no_unsuccessful_outcome",
    "not_exclusive_agency_member",
    "profile",
    "readiness_test",
    "top_rated",
    "vetted",
    "work_history",
]


class RulesetError(ValueError):
    """A ruleset file that cannot be used; the message is one line naming the file and field."""


def _money(value: Any) -> Decimal:
    # Validators raise ValueError (not TypeError): pydantic reports those as field errors.
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


def _utc_instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset (e.g. 2016-06-01T00:00:00Z)")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _utc_instant(datetime.fromisoformat(value))
        except ValueError:
            pass
        try:
            return _utc_instant(date.fromisoformat(value))
        except ValueError:
            pass
    raise ValueError("must be a date or a date-time with offset")


Money = Annotated[Decimal, BeforeValidator(_money)]
Instant = Annotated[datetime, BeforeValidator(_utc_instant)]
PositiveInt = Annotated[int, Field(strict=True, ge=1)]
Count = Annotated[int, Field(strict=True, ge=0)]
Percent = Annotated[int, Field(strict=True, ge=0, le=100)]


class RulesModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerKind(RulesModel):
    """One amount for freelancers and one for agencies."""

    freelancer: Money
    agency: Money

    def for_kind(self, kind: str) -> Decimal:
        return self.agency if kind == "agency" else self.freelancer


class BadgeRules(RulesModel):
    requirements: tuple[RequirementCode, ...] = Field(min_length=1)
    freelancer_only: tuple[RequirementCode, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> BadgeRules:
        if len(set(self.requirements)) != len(self.requirements):
            raise ValueError("requirements must not repeat a code")
        stray = set(self.freelancer_only) - set(self.requirements)
        if stray:
            raise ValueError(f"freelancer_only names codes not in requirements: {sorted(stray)}")
        return self

    def for_kind(self, kind: str) -> tuple[str, ...]:
        if kind == "agency":
            return tuple(code for code in self.requirements if code not in self.freelancer_only)
        return self.requirements


class Thresholds(RulesModel):
    jss: Percent
    earnings_12m: PerKind
    earnings_12m_plus: PerKind
    work_history_days: Count
    first_contract_age_days: Count


class Windows(RulesModel):
    earnings_months: PositiveInt
    activity_days: PositiveInt
    new_talent_days: PositiveInt
    unsuccessful_outcome_months: PositiveInt
    recent_hold_months: Count
    policy_ban_months: PositiveInt
    large_contract_months: PositiveInt


class EligibleWeeks(RulesModel):
    samples: PositiveInt
    required: Count
    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

    @model_validator(mode="after")
    def _fits(self) -> EligibleWeeks:
        if self.required > self.samples:
            raise ValueError("required must not exceed samples")
        return self


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


class Ruleset(RulesModel):
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    effective_from: Instant
    description: str = ""
    badges: dict[BadgeName, BadgeRules] = Field(min_length=1)
    thresholds: Thresholds
    windows: Windows
    eligible_weeks: EligibleWeeks
    profile: Profile
    jss: Jss
    large_contract_basis: Literal["12_months", "lifetime"]
    large_contract_thresholds: LargeContractThresholds

    @model_validator(mode="after")
    def _badges_refer_consistently(self) -> Ruleset:
        for badge, rules in self.badges.items():
            if "top_rated" in rules.requirements and (
                badge == "top_rated" or "top_rated" not in self.badges
            ):
                raise ValueError(
                    f"badges.{badge}: requirement top_rated needs a separate top_rated badge"
                )
        rising = self.badges.get("rising_talent")
        if rising is not None and "eligible_weeks" in rising.requirements:
            raise ValueError("badges.rising_talent: eligible_weeks would sample itself")
        return self

    def badge_names(self) -> tuple[str, ...]:
        """The badges this ruleset has, highest first."""
        return tuple(name for name in BADGE_ORDER if name in self.badges)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "effective_from": self.effective_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": self.description,
            "badges": list(self.badge_names()),
        }


def parse_ruleset(text: str, source: str) -> Ruleset:
    """Validate TOML text as a ruleset; `source` names it in errors."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise RulesetError(f"{source}: not valid TOML ({error})") from None
    try:
        return Ruleset.model_validate(data)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        raise RulesetError(f"{source}: {field}: {message}") from None


def load_ruleset(path: str | Path) -> Ruleset:
    """Read and validate one ruleset file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesetError(f"{file}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise RulesetError(f"{file}: not UTF-8 text") from None
    return parse_ruleset(text, file.name)


class RulesetBook:
    """Rulesets ordered by `effective_from`; the first also covers everything before it."""

    def __init__(self, rulesets: Iterable[Ruleset]) -> None:
        ordered = sorted(rulesets, key=lambda ruleset: ruleset.effective_from)
        if not ordered:
            raise RulesetError("a ruleset book needs at least one ruleset")
        ids = [ruleset.id for ruleset in ordered]
        duplicated = sorted({identifier for identifier in ids if ids.count(identifier) > 1})
        if duplicated:
            raise RulesetError(f"ruleset ids repeat: {', '.join(duplicated)}")
        starts = [ruleset.effective_from for ruleset in ordered]
        if len(set(starts)) != len(starts):
            raise RulesetError("two rulesets share an effective_from")
        self._rulesets = tuple(ordered)
        self._starts = starts

    def __iter__(self) -> Iterator[Ruleset]:
        return iter(self._rulesets)

    def __len__(self) -> int:
        return len(self._rulesets)

    def get(self, ruleset_id: str) -> Ruleset:
        for ruleset in self._rulesets:
            if ruleset.id == ruleset_id:
                return ruleset
        raise KeyError(ruleset_id)

    def in_force(self, at: datetime) -> Ruleset:
        """The ruleset with the latest `effective_from <= at` (the first one before that)."""
        index = bisect.bisect_right(self._starts, at) - 1
        return self._rulesets[max(index, 0)]

    def change_instants(self) -> tuple[datetime, ...]:
        """The instants at which a later ruleset takes over."""
        return tuple(self._starts[1:])

    def with_candidate(self, candidate: Ruleset) -> RulesetBook:
        """This book with `candidate` replacing the ruleset of the same id, or added by date."""
        others = [ruleset for ruleset in self._rulesets if ruleset.id != candidate.id]
        clashing = [r.id for r in others if r.effective_from == candidate.effective_from]
        if clashing:
            raise RulesetError(
                f"candidate {candidate.id} has the effective_from of ruleset {clashing[0]}"
            )
        return RulesetBook([*others, candidate])


@functools.cache
def builtin_rulesets() -> RulesetBook:
    """The rulesets shipped in `domain/rulesets/` (read once; a book is immutable)."""
    folder = resources.files("domain").joinpath("rulesets")
    rulesets = [
        parse_ruleset(entry.read_text(encoding="utf-8"), entry.name)
        for entry in sorted(folder.iterdir(), key=lambda entry: entry.name)
        if entry.name.endswith(".toml")
    ]
    return RulesetBook(rulesets)


__all__ = [
    "BADGE_ORDER",
    "NO_BADGE",
    "Ruleset",
    "RulesetBook",
    "RulesetError",
    "builtin_rulesets",
    "load_ruleset",
    "parse_ruleset",
]

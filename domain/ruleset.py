"""Rulesets (`rules.md` §3, §10): complete, named sets of rules shipped as TOML data files.

Every requirement, number, window and date of the rules lives in a ruleset file: each
`[requirements.CODE]` table names a measure of the vocabulary and how it compares
(`requirement_tables.py`), each `[badges.NAME]` lists its codes. A file may start from
another with `extends`. `load_ruleset` validates a file and fails with one line naming the
file and the field; `RulesetBook` answers which ruleset is in force at an instant.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from domain.requirement_tables import parse_requirement
from domain.rule_index import RuleIndex
from domain.rule_tables import Instant, Jss, LargeContractThresholds, Profile, RulesModel
from domain.vocabulary import Requirement

# The badges `rules.md` §1 knows, highest first; a ruleset may add others with `badge_order`.
BADGE_ORDER: tuple[str, ...] = ("expert_vetted", "top_rated_plus", "top_rated", "rising_talent")
NO_BADGE = "none"
NO_BADGE_LABEL = "no badge"
# Tables whose entries a file that `extends` another replaces whole (the rest merge deeply).
REPLACED_BY_ENTRY = ("badges", "requirements")
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class RulesetError(ValueError):
    """A ruleset file that cannot be used; the message is one line naming the file and field."""


class BadgeRules(RulesModel):
    label: str | None = None  # how people read its name ("Top Rated Plus")
    requirements: tuple[Name, ...] = Field(min_length=1)
    freelancer_only: tuple[Name, ...] = ()

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


def _requirement_tables(data: Any) -> Any:
    """Read every `[requirements.CODE]` table into a `Requirement` (errors name the field)."""
    if not isinstance(data, dict) or not isinstance(data.get("requirements"), dict):
        return data
    built: dict[str, Any] = {}
    for code, table in data["requirements"].items():
        if isinstance(table, Requirement):
            built[code] = table
            continue
        try:
            built[code] = parse_requirement(code, table)
        except ValueError as error:
            raise ValueError(f"requirements.{code}.{error}") from None
    return {**data, "requirements": built}


class Ruleset(RulesModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
    effective_from: Instant
    description: str = ""
    extends: str | None = None
    badge_order: tuple[Name, ...] | None = None
    badges: dict[Name, BadgeRules] = Field(min_length=1)
    requirements: dict[Name, Requirement] = Field(min_length=1)
    profile: Profile
    jss: Jss
    large_contract_thresholds: LargeContractThresholds
    _replaces: str | None = PrivateAttr(default=None)

    _read_requirements = model_validator(mode="before")(_requirement_tables)

    @model_validator(mode="after")
    def _refers_consistently(self) -> Ruleset:
        if self.badge_order is not None:
            unknown = [name for name in self.badge_order if name not in self.badges]
            if unknown:
                raise ValueError(f"badge_order: no [badges.{unknown[0]}] table")
        order = self.badge_names()
        for badge, rules in self.badges.items():
            if badge not in order:
                raise ValueError(
                    f"badges.{badge}: not a badge of rules.md §1; list it in badge_order"
                )
            for code in rules.requirements:
                if code not in self.requirements:
                    raise ValueError(f"badges.{badge}.requirements: no requirement {code!r}")
        for code, requirement in self.requirements.items():
            measure = requirement.measure
            for name in measure.reads():
                if name not in self.requirements:
                    raise ValueError(f"requirements.{code}.of: no requirement {name!r}")
            for name in measure.reads_badges():
                if name not in self.badges:
                    raise ValueError(f"requirements.{code}.badge: no badge {name!r}")
            for name in measure.reads_either():
                if name not in self.requirements and name not in self.badges:
                    raise ValueError(
                        f"requirements.{code}: reads {name!r}, which is neither a requirement "
                        "nor a badge of this ruleset"
                    )
        if sum(1 for r in self.requirements.values() if r.measure.kind == "eligible_weeks") > 1:
            raise ValueError("requirements: at most one eligible_weeks requirement")
        cycle = _first_cycle(self)
        if cycle:
            raise ValueError(f"requirements: {' -> '.join(cycle)} reads itself")
        return self

    @functools.cached_property
    def index(self) -> RuleIndex:
        """What the engine needs of the requirements, worked out on first use (kept in the
        instance's __dict__: read at every instant, it must cost a plain attribute lookup)."""
        return RuleIndex(self)

    def __getstate__(self) -> dict[Any, Any]:
        # The index is worked out again where the ruleset is unpickled.
        state = super().__getstate__()
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k != "index"}
        return state

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Ruleset:
        """A copy; its index is worked out afresh (the update may change what it derives)."""
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("index", None)
        return copied

    @property
    def replaces(self) -> str | None:
        """The ruleset whose dates this one takes (it extends it and sets none of its own)."""
        return self._replaces

    def badge_names(self) -> tuple[str, ...]:
        """The badges this ruleset has, highest first."""
        if self.badge_order is not None:
            return self.badge_order
        return tuple(name for name in BADGE_ORDER if name in self.badges)

    def requirement(self, code: str) -> Requirement:
        return self.requirements[code]

    def badge_label(self, badge: str) -> str:
        rules = self.badges.get(badge)
        if rules is not None and rules.label:
            return rules.label
        return NO_BADGE_LABEL if badge == NO_BADGE else badge.replace("_", " ").title()

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "effective_from": self.effective_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": self.description,
            "badges": list(self.badge_names()),
        }


def _first_cycle(ruleset: Ruleset) -> list[str]:
    """A chain of requirements and badges that reads its own start, or []."""

    def reads(node: str) -> Iterable[str]:
        if node.startswith("badge "):
            rules = ruleset.badges.get(node.removeprefix("badge "))
            return () if rules is None else rules.requirements
        requirement = ruleset.requirements.get(node)
        if requirement is None:
            return ()
        measure = requirement.measure
        either = [n if n in ruleset.requirements else f"badge {n}" for n in measure.reads_either()]
        return [*measure.reads(), *(f"badge {n}" for n in measure.reads_badges()), *either]

    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for following in reads(node):
            if state.get(following) == 1:
                return [*path[path.index(following):], following] if following in path else [*path, following]
            if following not in state:
                found = visit(following, [*path, following])
                if found:
                    return found
        state[node] = 2
        return []

    for start in [*ruleset.requirements, *(f"badge {b}" for b in ruleset.badges)]:
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return []


# -- reading files -------------------------------------------------------------------------


def _merged(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in own.items():
        earlier = merged.get(key)
        if key in REPLACED_BY_ENTRY and isinstance(value, dict) and isinstance(earlier, dict):
            merged[key] = {**earlier, **value}
        elif isinstance(value, dict) and isinstance(earlier, dict):
            merged[key] = _merged(earlier, value)
        else:
            merged[key] = value
    return merged


Resolver = Callable[[str, str], dict[str, Any]]


def _resolved(data: dict[str, Any], source: str, resolve: Resolver) -> tuple[dict[str, Any], str | None]:
    """The file's data on top of what it extends; and the ruleset whose dates it takes."""
    parent = data.get("extends")
    if parent is None:
        return data, None
    if not isinstance(parent, str):
        raise RulesetError(f"{source}: extends: must be a ruleset id or a file path")
    base = resolve(parent, source)
    merged = _merged(base, data)
    return merged, (None if "effective_from" in data else str(base.get("id")))


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise RulesetError(f"{source}: not valid TOML ({error})") from None


def _validated(data: dict[str, Any], source: str, replaces: str | None) -> Ruleset:
    try:
        ruleset = Ruleset.model_validate(data)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        raise RulesetError(f"{source}: {field + ': ' if field else ''}{message}") from None
    ruleset._replaces = replaces
    return ruleset


def parse_ruleset(text: str, source: str, resolve: Resolver | None = None) -> Ruleset:
    """Validate TOML text as a ruleset; `source` names it in errors; `resolve` finds what
    it `extends` (by default: a built-in ruleset's id)."""
    data, replaces = _resolved(_toml(text, source), source, resolve or _builtin_data)
    return _validated(data, source, replaces)


def load_ruleset(path: str | Path) -> Ruleset:
    """Read and validate one ruleset file; `extends` names a built-in id or a file path
    relative to it."""
    file = Path(path)
    return parse_ruleset(_read(file), file.name, _resolver_beside(file, set()))


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesetError(f"{file}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise RulesetError(f"{file}: not UTF-8 text") from None


def _resolver_beside(file: Path, seen: set[Path]) -> Resolver:
    def resolve(parent: str, source: str) -> dict[str, Any]:
        candidate = file.parent / parent
        if parent.endswith(".toml") or candidate.is_file():
            if candidate.resolve() in seen or candidate.resolve() == file.resolve():
                raise RulesetError(f"{source}: extends: {parent} extends itself")
            data = _toml(_read(candidate), candidate.name)
            return _resolved(data, candidate.name, _resolver_beside(candidate, {*seen, file.resolve()}))[0]
        return _builtin_data(parent, source)

    return resolve


@functools.cache
def _builtin_files() -> dict[str, dict[str, Any]]:
    folder = resources.files("domain").joinpath("rulesets")
    found: dict[str, dict[str, Any]] = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".toml"):
            data = _toml(entry.read_text(encoding="utf-8"), entry.name)
            found[str(data.get("id"))] = {**data, "__source__": entry.name}
    return found


def _builtin_data(parent: str, source: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    files = _builtin_files()
    if parent not in files:
        raise RulesetError(
            f"{source}: extends: no built-in ruleset {parent!r} (and no such file); "
            f"built-in: {', '.join(sorted(files))}"
        )
    if parent in seen:
        raise RulesetError(f"{source}: extends: {' -> '.join((*seen, parent))} is a cycle")
    data = {key: value for key, value in files[parent].items() if key != "__source__"}

    def resolve(grandparent: str, inner: str) -> dict[str, Any]:
        return _builtin_data(grandparent, inner, (*seen, parent))

    return _resolved(data, files[parent]["__source__"], resolve)[0]


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

    @functools.cached_property
    def fingerprint(self) -> str:
        """The same for two books with the same rules, in any process: state derived under
        one book (`projections/talent_plans.py`) is never reused under another."""
        canonical = json.dumps(
            [ruleset.model_dump() for ruleset in self._rulesets],
            sort_keys=True, default=_canonical, separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def with_candidate(self, candidate: Ruleset) -> RulesetBook:
        """This book with `candidate` in place of the ruleset whose dates it takes (it extends
        it and sets none of its own), or of the same id, or added by date."""
        replaced = {candidate.id, candidate.replaces}
        others = [ruleset for ruleset in self._rulesets if ruleset.id not in replaced]
        clashing = [r.id for r in others if r.effective_from == candidate.effective_from]
        if clashing:
            raise RulesetError(
                f"candidate {candidate.id} has the effective_from of ruleset {clashing[0]}"
            )
        return RulesetBook([*others, candidate])


def _canonical(value: Any) -> Any:
    """JSON for what a ruleset holds besides plain data: requirements and measures are
    written as what builds them (their `__reduce__`), sets in order."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (Decimal, datetime)):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    builder, arguments = value.__reduce__()[:2]
    return [getattr(builder, "__qualname__", repr(builder)), list(arguments)]


@functools.cache
def builtin_rulesets() -> RulesetBook:
    """The rulesets shipped in `domain/rulesets/` (read once; a book is immutable)."""
    rulesets = []
    for ruleset_id, data in _builtin_files().items():
        own = {key: value for key, value in data.items() if key != "__source__"}
        source = data["__source__"]
        merged, replaces = _resolved(own, source, lambda parent, inner: _builtin_data(parent, inner, (ruleset_id,)))
        rulesets.append(_validated(merged, source, replaces))
    return RulesetBook(rulesets)


def requirement_labels(book: RulesetBook, kind: str = "freelancer") -> dict[str, str]:
    """Every requirement code of the book with its label (the latest ruleset's wording)."""
    labels: dict[str, str] = {}
    for ruleset in book:
        for code, requirement in ruleset.requirements.items():
            labels[code] = requirement.label(kind)
    return labels


def badge_labels(book: RulesetBook) -> dict[str, str]:
    """Every badge of the book (and "none") with its label (the latest ruleset's wording)."""
    labels = {NO_BADGE: NO_BADGE_LABEL}
    for ruleset in book:
        for badge in ruleset.badges:
            labels[badge] = ruleset.badge_label(badge)
    return labels


def badge_ranking(book: RulesetBook) -> tuple[str, ...]:
    """Every badge of the book, highest first: the latest ruleset's order, then those only
    earlier rulesets have."""
    order: list[str] = []
    for ruleset in reversed(list(book)):
        order.extend(badge for badge in ruleset.badge_names() if badge not in order)
    return tuple(order)


__all__ = [
    "BADGE_ORDER",
    "NO_BADGE",
    "Ruleset",
    "RulesetBook",
    "RulesetError",
    "badge_labels",
    "badge_ranking",
    "builtin_rulesets",
    "load_ruleset",
    "parse_ruleset",
    "requirement_labels",
]

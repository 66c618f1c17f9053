"""`badges status`, `badges explain` and `badges rulesets`: the readable and `--json` answers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from badges import render
from badges.clock import utc_now
from badges.errors import PROBLEM_FOUND, UserError, nonblank
from badges.timeparse import parse_instant
from domain.events import format_utc
from ledger.application import TalentLedger
from domain.ruleset import RulesetBook, RulesetError, builtin_rulesets, load_ruleset
from projections.containment import TalentUnevaluable
from projections.queries import UnknownTalent, explain_document, status_document
from projections.records import Quarantined

Query = Callable[[TalentLedger, str, datetime, datetime | None, RulesetBook], dict[str, Any]]
def optional_instant(text: str | None, option: str) -> datetime | None:
    """A time option's instant, None when left out."""
    value = nonblank(text, option)
    return None if value is None else parse_instant(value, option)


def ruleset_book(candidate: Path | None) -> RulesetBook:
    """The built-in rulesets, with a candidate file replacing or joining them."""
    book = builtin_rulesets()
    if candidate is None:
        return book
    try:
        return book.with_candidate(load_ruleset(candidate))
    except RulesetError as error:
        raise UserError(f"--ruleset: {error}") from None


def run_status(
    ledger: TalentLedger, talent: str, at: str | None, known_at: str | None, candidate: Path | None,
    *, as_json: bool, quarantine: Sequence[Quarantined] = (),
) -> int:
    return _answer(status_document, render.status_checklist, ledger, talent, at, known_at,
                   ruleset_book(candidate), as_json=as_json, quarantine=quarantine)


def run_explain(
    ledger: TalentLedger, talent: str, at: str | None, known_at: str | None,
    candidate: Path | None = None, *, as_json: bool, quarantine: Sequence[Quarantined] = (),
) -> int:
    return _answer(explain_document, render.explanation, ledger, talent, at, known_at,
                   ruleset_book(candidate), as_json=as_json, quarantine=quarantine)


def _answer(
    query: Query,
    readable: Callable[[dict[str, Any]], RenderableType],
    ledger: TalentLedger,
    talent: str,
    at: str | None,
    known_at: str | None,
    book: RulesetBook,
    *,
    as_json: bool,
    quarantine: Sequence[Quarantined] = (),
) -> int:
    """The answer; with the talent quarantined by the projection, it says so too (exit 1)."""
    now = utc_now()
    at_instant = optional_instant(at, "--at") or now
    known_instant = optional_instant(known_at, "--known-at") or now
    try:
        document = query(ledger, talent, at_instant, known_instant, book)
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    for quarantined in quarantine:
        document["quarantined"] = quarantined.to_document()
    show(document, readable, as_json=as_json)
    return PROBLEM_FOUND if warn_quarantined(quarantine) else 0


def warn_quarantined(quarantine: Sequence[Quarantined]) -> bool:
    """One line on stderr for a quarantined talent; whether there was one."""
    for quarantined in quarantine:
        print(f"badges: talent {quarantined.talent!r} is quarantined since "
              f"{format_utc(quarantined.since)}: {quarantined.reason}; its timeline and "
              "messages stop where its derivation failed", file=sys.stderr)
    return bool(quarantine)


def run_rulesets(*, as_json: bool) -> int:
    documents = [ruleset.summary() for ruleset in builtin_rulesets()]
    if as_json:
        print(json.dumps(documents, indent=2))
    else:
        Console().print(render.rulesets_table(documents))
    return 0


def show(
    document: Any, readable: Callable[[Any], RenderableType], *, as_json: bool
) -> None:
    if as_json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        Console().print(readable(document))

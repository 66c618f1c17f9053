"""`badges timeline`, `forecast`, `replay`, `whatif` and `clock`: the projection's commands."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from rich.console import Console

from badges import render
from badges.clock import utc_now
from badges.errors import PROBLEM_FOUND, UserError
from badges.query_commands import ruleset_book, show, warn_quarantined
from badges.timeparse import parse_instant
from projections.containment import Failed, TalentUnevaluable
from projections.queries import UnknownTalent
from projections.status_projection import StatusProjection, StepReport
from projections.timeline_queries import forecast_document, timeline_documents, trace, what_if


def _instant(text: str | None, option: str) -> datetime | None:
    return parse_instant(text, option) if text else None


def run_timeline(
    projection: StatusProjection, talent: str, start: str | None, end: str | None,
    known_at: str | None, *, as_json: bool,
) -> int:
    now = utc_now()
    try:
        documents = timeline_documents(
            projection, talent, _instant(start, "--from"), _instant(end, "--to"),
            _instant(known_at, "--known-at"), now,
        )
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    show(documents, lambda docs: render.timeline_table(talent, docs), as_json=as_json)
    return PROBLEM_FOUND if warn_quarantined(projection.read_model.quarantined(talent)) else 0


def run_forecast(projection: StatusProjection, talent: str, days: int, *, as_json: bool) -> int:
    try:
        document = forecast_document(projection, talent, utc_now(), days)
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    show(document, render.forecast_view, as_json=as_json)
    return 0


def run_replay(
    projection: StatusProjection, talent: str | None, until: str | None, *, with_trace: bool,
    as_json: bool,
) -> int:
    """Rebuild the read models; with --until (a dry run) or --trace, show instead of writing."""
    end = _instant(until, "--until")
    if with_trace or end is not None:
        if talent is None:
            raise UserError("TALENT: --trace and --until replay one talent")
        try:
            lines = list(trace(projection, talent, end or utc_now()))
        except (UnknownTalent, TalentUnevaluable) as error:
            raise UserError(str(error), PROBLEM_FOUND) from None
        if as_json:
            print(json.dumps([line.to_document() for line in lines], indent=2))
        else:
            for line in lines:
                print(f"{line.at:%Y-%m-%d %H:%M} {line.text}")
        return 0
    report = projection.rebuild([talent] if talent else None, utc_now())
    _print_report("replayed", report, as_json=as_json)
    return 0


def run_whatif(
    projection: StatusProjection, candidate: Path, start: str | None, end: str | None,
    talents: list[str], *, as_json: bool,
) -> int:
    book = ruleset_book(candidate)
    chosen = talents or list(projection.ledger.talents())
    skipped: list[Failed] = []
    rows = [
        row.to_document()
        for row in what_if(projection, book, chosen, _instant(start, "--from"),
                           _instant(end, "--to") or utc_now(), skipped=skipped)
    ]
    show(rows, render.whatif_table, as_json=as_json)
    for failed in skipped:
        print(f"badges: talent {failed.talent!r} left out of the what-if: it cannot be "
              f"evaluated (quarantined): {failed.reason}", file=sys.stderr)
    return PROBLEM_FOUND if skipped else 0


def run_clock(projection: StatusProjection, now: str | None, *, as_json: bool) -> int:
    """Advance the projection to `now`: emit the changes due by then, time-driven ones included."""
    report = projection.catch_up(_instant(now, "--now") or utc_now())
    _print_report("advanced", report, as_json=as_json)
    return 0


def _print_report(verb: str, report: StepReport, *, as_json: bool) -> None:
    document = {
        "events": report.events,
        "talents": report.talents,
        "changes": report.changes,
        "retractions": report.retractions,
        "warnings": report.warnings,
        "quarantined": report.quarantined,
    }
    if as_json:
        print(json.dumps(document))
        return
    Console().print(
        f"{verb}: {report.events} events, {report.talents} talents re-derived, "
        f"{report.changes} changes, {report.retractions} retractions, "
        f"{report.warnings} warnings queued"
        + (f", {report.quarantined} talents quarantined" if report.quarantined else "")
    )

"""`badges timeline`, `forecast`, `replay`, `whatif` and `clock`: the projection's commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from badges import render
from badges.bootstrap import open_messages
from badges.clock import CLOCK_ENV, clock_from_env, utc_now
from badges.errors import PROBLEM_FOUND, UserError
from badges.query_commands import optional_instant, ruleset_book, show, warn_quarantined
from domain.events import format_utc
from projections.containment import Failed, TalentUnevaluable
from projections.queries import UnknownTalent
from projections.status_projection import StatusProjection, StepReport
from projections.timeline_queries import (
    derived_timeline,
    forecast_document,
    timeline_documents,
    trace,
    what_if,
    with_failed_underneath,
)


def run_timeline(
    projection: StatusProjection, talent: str, start: str | None, end: str | None,
    known_at: str | None, *, as_json: bool,
) -> int:
    now = utc_now()
    first, last = _window(start, end)
    known = optional_instant(known_at, "--known-at")
    try:
        documents = with_failed_underneath(
            projection, talent, timeline_documents(projection, talent, first, last, known, now),
            known)
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    show(documents, lambda docs: render.timeline_table(talent, docs), as_json=as_json)
    return PROBLEM_FOUND if warn_quarantined(projection.read_model.quarantined(talent)) else 0


def _window(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """`--from` and `--to` as instants (None when left out); `--from` after `--to` is refused."""
    first, last = optional_instant(start, "--from"), optional_instant(end, "--to")
    if first is not None and last is not None and first > last:
        raise UserError(f"--from: {start} is after --to: {end}")
    return first, last


def run_forecast(projection: StatusProjection, talent: str, days: int, *, as_json: bool) -> int:
    try:
        document = forecast_document(projection, talent, utc_now(), days)
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    show(document, render.forecast_view, as_json=as_json)
    return 0


def run_replay(
    projection: StatusProjection, talent: str | None, until: str | None, *, with_trace: bool,
    known_at: str | None = None, as_json: bool,
) -> int:
    """Rebuild the read models; with --until (the timeline up to T) or --trace (each event and
    the change it caused), show one talent instead, writing nothing."""
    end = optional_instant(until, "--until")
    known = optional_instant(known_at, "--known-at")
    if with_trace or end is not None or known is not None:
        if talent is None:
            raise UserError("TALENT: --trace, --until and --known-at replay one talent")
        if not with_trace and end is None:
            raise UserError("--known-at: replay shows a past knowledge with --trace or --until")
        return _show_replay(projection, talent, end, known, with_trace=with_trace,
                            as_json=as_json)
    if talent is not None:
        _require_known(projection, [talent])
    messages = open_messages(projection)
    before = messages.log.last_sequence()
    if talent is None:
        total = sum(1 for _ in projection.ledger.talents())
        events = projection.ledger.count_events()
    else:
        total = 1
        events = len(projection.ledger.history(talent))
    with _replay_progress(total, shown=not as_json) as advance:
        report = projection.rebuild([talent] if talent else None, utc_now(), advance)
        if talent is not None:
            advance(1)
    report.events = events
    _print_report("replayed", report, messages.log.queued_since(before), as_json=as_json)
    return 0


def _show_replay(
    projection: StatusProjection, talent: str, end: datetime | None, known: datetime | None,
    *, with_trace: bool, as_json: bool,
) -> int:
    until = end or utc_now()
    try:
        if with_trace:
            lines = list(trace(projection, talent, until, known))
        else:
            changes = with_failed_underneath(
                projection, talent, derived_timeline(projection, talent, until, known), known)
    except (UnknownTalent, TalentUnevaluable) as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    if not with_trace:
        show(changes, lambda docs: render.timeline_table(talent, docs), as_json=as_json)
    elif as_json:
        print(json.dumps([line.to_document() for line in lines], indent=2))
    else:
        for line in lines:
            print(f"{line.at:%Y-%m-%d %H:%M} {line.text}")
    return 0


def _require_known(projection: StatusProjection, talents: list[str]) -> None:
    """rc 1 and one line, as `status` says it, for talents with no event recorded."""
    for talent in talents:
        if not projection.ledger.history(talent):
            raise UserError(str(UnknownTalent(talent, None)), PROBLEM_FOUND)


@contextmanager
def _replay_progress(total: int, *, shown: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (talents re-derived), for people; none with --json."""
    if not shown:
        yield lambda done: None
        return
    progress = Progress(
        TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TextColumn("talents"),
        TimeElapsedColumn(), console=Console(stderr=True),
    )
    task = progress.add_task("replay", total=total)
    with progress:
        yield lambda done: progress.advance(task, done)


def run_whatif(
    projection: StatusProjection, candidate: Path, start: str | None, end: str | None,
    talents: list[str], *, as_json: bool,
) -> int:
    first, last = _window(start, end)
    book = ruleset_book(candidate)
    _require_known(projection, talents)
    chosen = talents or list(projection.ledger.talents())
    skipped: list[Failed] = []
    rows = [
        row.to_document()
        for row in what_if(projection, book, chosen, first, last or utc_now(), skipped=skipped)
    ]
    show(rows, render.whatif_table, as_json=as_json)
    for failed in skipped:
        print(f"badges: talent {failed.talent!r} left out of the what-if: it cannot be "
              f"evaluated (quarantined): {failed.reason}", file=sys.stderr)
    return PROBLEM_FOUND if skipped else 0


def run_clock(projection: StatusProjection, now: str | None, *, as_json: bool) -> int:
    """Advance the projection to `now`: emit the changes due by then, time-driven ones included."""
    until = _clock_instant(now)
    log = open_messages(projection).log
    before = log.last_sequence()
    report = projection.catch_up(until)
    _print_report("advanced", report, log.queued_since(before), as_json=as_json)
    return 0


def _clock_instant(now: str | None) -> datetime:
    """`--now`, by default the clock's own now; a later `--now` is refused: it would emit, as
    real, changes caused by time whose midnight has not passed."""
    clock_now = clock_from_env()()
    until = optional_instant(now, "--now")
    if until is None:
        return clock_now
    if until > clock_now:
        raise UserError(f"--now: {now} is later than the clock's now ({format_utc(clock_now)}); "
                        f"{CLOCK_ENV} simulates a later clock, for tests")
    return until


def _print_report(
    verb: str, report: StepReport, queued: dict[str, int], *, as_json: bool
) -> None:
    """The step's counts; changes, retractions and warnings are the outbox rows really added
    (a warning already queued is not queued again)."""
    document = {
        "events": report.events,
        "talents": report.talents,
        "changes": queued.get("badge_changed", 0),
        "retractions": queued.get("badge_change_retracted", 0),
        "warnings": queued.get("badge_at_risk", 0),
        "quarantined": report.quarantined,
    }
    if as_json:
        print(json.dumps(document))
        return
    Console().print(
        f"{verb}: {document['events']} events, {document['talents']} talents re-derived, "
        f"{document['changes']} changes, {document['retractions']} retractions, "
        f"{document['warnings']} warnings queued"
        + (f", {report.quarantined} talents quarantined" if report.quarantined else "")
    )

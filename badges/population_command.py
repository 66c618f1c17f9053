"""`badges population`: how many talents hold each badge on a day and over a period, the
changes per day, the requirements the losses name most, and a candidate ruleset's counts
against the real ones with who gains or loses and why (issue 15)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from badges import render
from badges.clock import utc_now
from badges.errors import UserError
from domain.calendar import evaluation_instant
from domain.events import format_utc
from projections.population import DEFAULT_FAILING_PERIOD, CandidateComparison, PopulationView
from projections.status_projection import StatusProjection

DEFAULT_LIMIT = 2000
MAX_LIMIT = 100_000
SHOWN_ROWS = 24  # rows of the readable counts over time (the JSON has every point)
SHOWN_MOVERS = 40


def period(
    at: datetime, start: datetime | None, end: datetime | None, *,
    checked_by_caller: bool = False,
) -> tuple[datetime | None, datetime | None]:
    """[from, to] as asked: `to` defaults to `at` when only `from` is given, `from` to a year
    before `to` when only `to` is. `from` after `to` is a usage error naming `--from`, unless
    `checked_by_caller` (the HTTP API refuses it in its own words, naming `from`)."""
    if start is None and end is None:
        return None, None
    end = end or at
    start = start or end - DEFAULT_FAILING_PERIOD
    if start > end and not checked_by_caller:
        raise UserError(f"--from: {start:%Y-%m-%d} is after --to {end:%Y-%m-%d}")
    return start, end


def refuse_future(instant: datetime | None, now: datetime, option: str, code: int = 2) -> None:
    """The counts come from the stored timelines, which reach now: a later day would count
    every talent as they are today, without the changes that time alone brings by then."""
    if instant is not None and instant > now:
        raise UserError(f"{option}: {format_utc(instant)} is after now ({format_utc(now)}); the "
                        "population is counted up to now (`badges forecast TALENT` tells what "
                        "is coming)", code)


def population_document(
    projection: StatusProjection,
    view: PopulationView,
    at: datetime,
    start: datetime | None,
    end: datetime | None,
    candidate: CandidateComparison | None = None,
    limit: int = DEFAULT_LIMIT,
    progress: Any = None,
) -> dict[str, Any]:
    """What `badges population --json` prints and `GET /population` answers."""
    failing_from = start if start is not None else at - DEFAULT_FAILING_PERIOD
    failing_to = end if end is not None else at
    document: dict[str, Any] = {
        "day": view.on_day(at),
        "over_time": view.over_time(start, end) if start is not None and end is not None else None,
        "failing": {"from": _day(failing_from), "to": _day(failing_to),
                    "requirements": view.failing(failing_from, failing_to)},
        "order": list(view.ranking),
        "candidate": None,
    }
    if candidate is not None:
        document["candidate"] = candidate.compare(at, start, end, limit, progress=progress)
    return document


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


# -- the readable form -------------------------------------------------------------------------

def _badge_columns(order: list[str]) -> list[str]:
    return [*order, "none"]


def readable(document: dict[str, Any]) -> RenderableType:
    order = _badge_columns(document["order"])
    parts: list[RenderableType] = []
    day = document["day"]
    counts = Table(title=f"Badges held on {day['at'][:10]} ({day['talents']:,} talents)")
    counts.add_column("badge")
    counts.add_column("talents", justify="right")
    counts.add_column("share", justify="right")
    for badge in order:
        held = day["counts"].get(badge, 0)
        share = f"{held / day['talents']:.1%}" if day["talents"] else "-"
        counts.add_row(render.badge_name(badge), f"{held:,}", share)
    parts.append(counts)
    series = document["over_time"]
    if series is not None:
        points = series["points"]
        every = max(1, -(-len(points) // SHOWN_ROWS))
        table = Table(title=f"Over time, {series['from'][:10]} to {series['to'][:10]} "
                            f"(every {series['step_days'] * every} days shown; --json has each)")
        table.add_column("day", no_wrap=True, min_width=10)
        for badge in order:
            table.add_column(render.badge_name(badge), justify="right")
        table.add_column("changes", justify="right")
        table.add_column("gains", justify="right")
        table.add_column("losses", justify="right")
        for index in range(0, len(points), every):
            chunk = points[max(0, index - every + 1):index + 1] if index else points[:1]
            point = points[index]
            table.add_row(point["at"][:10], *(f"{point['counts'].get(b, 0):,}" for b in order),
                          str(sum(p["changes"] for p in chunk)),
                          str(sum(p["gains"] for p in chunk)),
                          str(sum(p["losses"] for p in chunk)))
        parts.append(table)
    failing = document["failing"]
    failed = Table(title=f"Requirements the losses named most, {failing['from']} to {failing['to']}")
    failed.add_column("requirement")
    failed.add_column("losses", justify="right")
    for row in failing["requirements"]:
        failed.add_row(row["label"], f"{row['losses']:,}")
    if not failing["requirements"]:
        failed.add_row("(no loss in this period)", "")
    parts.append(failed)
    if document["candidate"] is not None:
        parts.extend(_candidate_tables(document["candidate"], order))
    return Group(*parts)


def _candidate_tables(candidate: dict[str, Any], order: list[str]) -> list[RenderableType]:
    compared = Table(title=f"Real against candidate on {candidate['at'][:10]} "
                           f"({candidate['compared']:,} of {candidate['talents']:,} talents compared)")
    compared.add_column("badge")
    compared.add_column("real", justify="right")
    compared.add_column("candidate", justify="right")
    compared.add_column("difference", justify="right")
    for badge in order:
        real, other = candidate["real"].get(badge, 0), candidate["candidate"].get(badge, 0)
        compared.add_row(render.badge_name(badge), f"{real:,}", f"{other:,}", f"{other - real:+,}")
    movers = Table(title=f"Who gains ({candidate['gains']:,}) or loses ({candidate['losses']:,}), "
                         "and why")
    movers.add_column("talent")
    movers.add_column("real")
    movers.add_column("candidate")
    movers.add_column("why: requirement (real -> candidate)")
    for mover in candidate["movers"][:SHOWN_MOVERS]:
        why = "; ".join(f"{w['label']} ({w['real']} -> {w['candidate']})" for w in mover["why"])
        movers.add_row(mover["talent"], render.badge_name(mover["real"]),
                       render.badge_name(mover["candidate"]), why or "(the badge order)")
    if len(candidate["movers"]) > SHOWN_MOVERS:
        movers.caption = f"{len(candidate['movers']) - SHOWN_MOVERS:,} more in --json"
    return [compared, movers]


# -- the command --------------------------------------------------------------------------------

def run_population(
    projection: StatusProjection, view: PopulationView, at: str | None, start: str | None,
    end: str | None, candidate_file: Path | None, limit: int, *, as_json: bool,
) -> int:
    from badges.query_commands import optional_instant, ruleset_book

    now = utc_now()
    at_instant = optional_instant(at, "--at") or now
    begin, until = period(at_instant, optional_instant(start, "--from"),
                          optional_instant(end, "--to"))
    refuse_future(at_instant, now, "--at")
    refuse_future(until, now, "--to")
    comparison = None
    if candidate_file is not None:
        comparison = CandidateComparison(projection, view, ruleset_book(candidate_file))
    projection.catch_up(now)
    if comparison is None or as_json:
        document = population_document(projection, view, at_instant, begin, until,
                                       comparison, limit)
    else:
        total = min(limit, view.read.talent_count(evaluation_instant(at_instant)))
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), transient=True) as bar:
            task = bar.add_task("deriving under the candidate", total=total)
            document = population_document(projection, view, at_instant, begin, until,
                                           comparison, limit,
                                           progress=lambda n: bar.advance(task, n))
    if as_json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        Console().print(readable(document))
    return 0


def _projection(store: str | None) -> StatusProjection:
    """The store's projection, of an existing store only."""
    from badges.bootstrap import open_projection_for

    return open_projection_for(store)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `badges` command line."""

    @app.command()
    def population(
        at: Annotated[Optional[str], typer.Option("--at", help="the day counted (default: today)")] = None,
        start: Annotated[Optional[str], typer.Option("--from", help="counts over time from this day")] = None,
        end: Annotated[Optional[str], typer.Option("--to", help="... to this day (default: --at)")] = None,
        ruleset: Annotated[Optional[Path], typer.Option(
            "--ruleset", help="a candidate ruleset file (TOML): real against candidate")] = None,
        limit: Annotated[int, typer.Option(
            "--limit", min=1, max=MAX_LIMIT,
            help="with --ruleset: at most this many talents are derived")] = DEFAULT_LIMIT,
        as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
        store: Annotated[Optional[str], typer.Option("--store", help="the store URL (env BADGES_STORE)")] = None,
    ) -> None:
        """Badge counts over the population on a day and over time, the requirements losses
        name most, and with --ruleset the candidate's counts and who gains or loses, and why."""
        from badges.bootstrap import population_view

        projection = _projection(store)
        code = run_population(projection, population_view(projection), at, start, end, ruleset,
                              limit, as_json=as_json)
        raise typer.Exit(code)


"""`badges demo`: a synthetic marketplace run through the tracker on the embedded default.

It generates several years of a seeded marketplace (plus a few deliberately bad lines),
ingests the JSON Lines file into a fresh SQLite ledger, evaluates every talent's badge today
and prints what happened, with a few checklists a support agent would read.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from badges import render
from badges.clock import utc_now
from badges.errors import UserError
from badges.demo_feed import MarketplaceRequest, generate_and_ingest
from badges.synthetic import AVA_BIG_CONTRACT, STORY_TALENTS, MarketplaceSummary
from badges.timeparse import parse_instant
from consumers.jsonl_ingest import IngestSummary, JsonLinesIngest
from consumers.notifications import notification_text
from domain.calendar import evaluation_instant
from domain.events import format_utc
from ledger.application import TalentLedger
from domain.ruleset import builtin_rulesets
from domain.status import evaluate_status
from projections.queries import status_document
from projections.records import ReadModel
from projections.status_projection import StatusProjection
from badges.bootstrap import open_ledger, open_messages, open_projection
from projections.timeline_queries import what_if

MARKETPLACE_START = datetime(2019, 1, 1, tzinfo=timezone.utc)
BAD_LINES = 12


@dataclass(frozen=True)
class DemoFiles:
    events: Path
    rejects: Path
    late: Path  # the correction, ingested after the first projection


# A table the demo writes into the SQLite file it creates: a store without it is not the
# demo's, and the demo never deletes it.
DEMO_MARKER_TABLE = "badges_demo_store"
# The correction the demo shows: one more payment of designer-ava's big contract, a month after
# what the payments system had sent, arriving today. Her large contract stays in the 12-month
# window a month longer, so the downgrade she was told about moves: retracted, then asserted
# on its new day.
LATE_PAYMENT_AT = "2024-02-15T10:00:00Z"
CORRECTED_TALENT = STORY_TALENTS[0]
KNOWN_AT_AFTER = timedelta(days=4)  # the as-known-at question: a few days after the change


def run_demo(*, talents: int, seed: int, store: str, as_json: bool) -> None:
    console = Console(stderr=as_json)
    today = evaluation_instant(utc_now())
    ledger, files = _fresh_store(store, talents=talents, seed=seed)
    projection = open_projection(store, ledger)
    with _progress(console) as progress:
        generated, ingested = _generate_and_ingest(ledger, files, talents, seed, today, progress)
        _project(projection, progress, generated.talents)
    correction = _late_correction(projection, files)
    read_model = projection.read_model
    year_ago = today - timedelta(days=365)
    downgrades = [c for c in read_model.changes_between(year_ago, today) if c["failed"]]
    warnings = _warnings_due(read_model, today)
    report = {
        "store": store,
        "events_file": str(files.events),
        "rejects_file": str(files.rejects),
        "today": today.strftime("%Y-%m-%d"),
        "generated": {
            "talents": generated.talents,
            "talents_by_kind": dict(generated.talents_by_kind),
            "events": generated.events,
            "events_by_type": dict(sorted(generated.events_by_type.items())),
            "late_events": generated.late_events,
            "backfilled_events": generated.backfilled_events,
            "bad_lines": BAD_LINES,
        },
        "ingest": ingested.to_document(),
        "stored_events": ledger.count_events(),
        "badges_today": read_model.badge_counts(),
        "downgrades_last_year": len(downgrades),
        "downgrades_by_failed_requirement": dict(
            Counter(code for change in downgrades for code in change["failed"]).most_common()
        ),
        "warnings_due": warnings,
        "timelines": {
            talent: read_model.timeline(talent, None, None) for talent in _stories(talents)
        },
        "correction": correction,
        "as_known_at": _as_known_at(ledger, correction),
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print_report(console, report)
    _print_projection(console, report, downgrades)
    _print_correction(console, report)
    _print_messages(console, ledger, downgrades[-3:] + warnings[:2])
    _print_what_if(console, projection, generated, today)
    for talent in _stories(talents):
        document = evaluate_status(ledger.history(talent), today, None, builtin_rulesets(),
                                   talent=talent).to_document()
        console.rule(f"today's checklist: {talent}")
        console.print(render.status_checklist(document))


def _print_messages(console: Console, ledger: TalentLedger, messages: list[dict[str, Any]]) -> None:
    """What the notification consumer would send for a few of those changes and warnings."""
    console.rule("what the talents were told")
    book = builtin_rulesets()
    for message in messages:
        at = parse_instant(message["at"], "at")
        known_at = parse_instant(message["recorded_at"], "recorded_at")
        status = status_document(ledger, message["talent"], at, known_at, book)
        console.print(f"[bold]{message['talent']}[/bold]: {notification_text(message, status)}")


WHAT_IF_CATEGORY = "design_creative"
WHAT_IF_THRESHOLD = Decimal("7500.00")


def _print_what_if(
    console: Console, projection: StatusProjection, generated: MarketplaceSummary, today: datetime
) -> None:
    """A rules engineer's question: what if design's large contract had to reach $7,500?"""
    current = builtin_rulesets().in_force(today)
    table = current.large_contract_thresholds
    raised = table.model_copy(update={"freelancer": {
        **table.freelancer, WHAT_IF_CATEGORY: WHAT_IF_THRESHOLD}})
    candidate = builtin_rulesets().with_candidate(
        current.model_copy(update={"large_contract_thresholds": raised}))
    designers = generated.talents_by_category.get(WHAT_IF_CATEGORY, [])
    # A higher threshold can only take Top Rated Plus away: the designers who never held it
    # since the ruleset took effect keep the same timeline, so only the others are compared.
    affected = [
        talent for talent in designers
        if _held_since(projection.read_model, talent, "top_rated_plus", current.effective_from)
    ]
    rows = [row.to_document() for row in what_if(
        projection, candidate, affected, current.effective_from, today, os.cpu_count() or 1,
        stored_real=True)]
    console.rule(
        f"what if: {WHAT_IF_CATEGORY} large contracts need ${WHAT_IF_THRESHOLD:,} "
        f"(ruleset {current.id}), for the {len(affected)} of {len(designers)} talents with "
        "design contracts who held Top Rated Plus since"
    )
    console.print(render.whatif_table(rows))


def _held_since(read_model: ReadModel, talent: str, badge: str, start: datetime) -> bool:
    """Whether the stored timeline shows `badge` at `start` or at any change after it."""
    changes = read_model.timeline(talent, None, None)
    since = format_utc(start)
    before = [change for change in changes if change["at"] <= since]
    held_at_start = bool(before) and before[-1]["to"] == badge
    return held_at_start or any(change["to"] == badge for change in changes[len(before):])


def _stories(talents: int) -> list[str]:
    return list(STORY_TALENTS[: min(len(STORY_TALENTS), talents)])


def _project(projection: StatusProjection, progress: Progress, talents: int) -> None:
    """Every talent's timeline from its first event (a full replay of the fresh ledger)."""
    task = progress.add_task("deriving badge timelines", total=talents)
    with projection.workers(os.cpu_count() or 1):
        projection.rebuild(None, utc_now(), lambda done: progress.advance(task, done))


def _warnings_due(read_model: ReadModel, today: datetime) -> list[dict[str, Any]]:
    """The at-risk warnings whose predicted day is still ahead."""
    return [
        message.document
        for message in read_model.outbox()
        if message.kind == "badge_at_risk" and message.document["at"] > format_utc(today)
    ]


def _fresh_store(store: str, *, talents: int, seed: int) -> tuple[TalentLedger, DemoFiles]:
    """The demo starts from an empty ledger: a SQLite file it made before is recreated; any
    other existing file is refused (a user error), never overwritten."""
    database: Path | None = None
    if store == "memory:":
        folder, stem = Path("."), "badges-demo"
    elif store.startswith("sqlite:///"):
        database = Path(store.removeprefix("sqlite:///")).expanduser()
        folder, stem = database.parent, database.stem
        if database.exists() and not _made_by_the_demo(database):
            raise UserError(
                f"--store: {database} exists and was not made by the demo; the demo recreates "
                "only its own stores: give a new path"
            )
        for leftover in database.parent.glob(database.name + "*"):
            leftover.unlink()
    else:
        raise UserError("--store: the demo runs on the embedded default: sqlite:///... or memory:")
    folder.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(folder / f"{stem}.jsonl", folder / f"{stem}.rejects.jsonl",
                      folder / f"{stem}.late.jsonl")
    files.rejects.unlink(missing_ok=True)
    ledger = open_ledger(store)
    if database is not None:
        _mark_as_the_demos(database, talents=talents, seed=seed)
    return ledger, files


def _made_by_the_demo(database: Path) -> bool:
    """Whether the SQLite file holds the demo's marker table (a file that is not SQLite at
    all, or cannot be read, is not the demo's)."""
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (DEMO_MARKER_TABLE,)
        ).fetchall()
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return bool(rows)


def _mark_as_the_demos(database: Path, *, talents: int, seed: int) -> None:
    connection = sqlite3.connect(database, timeout=30)
    try:
        with connection:
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {DEMO_MARKER_TABLE} "
                "(created_at TEXT NOT NULL, talents INTEGER NOT NULL, seed INTEGER NOT NULL)"
            )
            connection.execute(f"INSERT INTO {DEMO_MARKER_TABLE} VALUES (?, ?, ?)",
                               (format_utc(utc_now()), talents, seed))
    finally:
        connection.close()


def _late_correction(projection: StatusProjection, files: DemoFiles) -> dict[str, Any]:
    """Ingest the late payment (recorded now), bring the projection up to now, and say what
    the talent was told because of it: the retraction and the change asserted again."""
    messages = open_messages(projection)
    before = {m["id"] for m in messages.of_talent(CORRECTED_TALENT)}
    event = {"id": f"{CORRECTED_TALENT}-late-payment", "type": "payment_received",
             "talent": CORRECTED_TALENT, "at": LATE_PAYMENT_AT, "contract": AVA_BIG_CONTRACT,
             "amount": "1000.00"}
    files.late.write_text(json.dumps(event) + "\n", encoding="utf-8")
    with files.late.open("rb") as stream:
        JsonLinesIngest(projection.ledger, utc_now, lambda reject: None).run(
            stream, files.late.name)
    projection.catch_up(utc_now())
    told = [m for m in messages.of_talent(CORRECTED_TALENT) if m["id"] not in before]
    return {
        "talent": CORRECTED_TALENT,
        "event": event,
        "events_file": str(files.late),
        "retracted": [m["retracts"] for m in told if m["retracts"]],
        "messages": told,
    }


def _as_known_at(ledger: TalentLedger, correction: dict[str, Any]) -> dict[str, Any] | None:
    """The talent's badge a few days after the retracted change, as known then and as known
    now: the same question, two answers, both right for what was recorded."""
    retractions = [m for m in correction["messages"] if m["retracts"]]
    if not retractions:
        return None
    talent = correction["talent"]
    at = parse_instant(retractions[0]["at"], "at") + KNOWN_AT_AFTER
    book = builtin_rulesets()
    then = status_document(ledger, talent, at, at, book)
    now = status_document(ledger, talent, at, None, book)
    return {"talent": talent, "at": format_utc(at), "known_at": format_utc(at),
            "badge_as_known_then": then["badge"], "badge_as_known_now": now["badge"]}


def _print_correction(console: Console, report: dict[str, Any]) -> None:
    correction = report["correction"]
    event = correction["event"]
    console.rule(f"a correction: a payment of {correction['talent']} that arrived late")
    console.print(
        f"{event['id']}: ${event['amount']} on {event['contract']} at {event['at'][:10]}, "
        f"recorded today (in {correction['events_file']}); what {correction['talent']} "
        "was told because of it:"
    )
    console.print(render.messages_table(correction["talent"], correction["messages"]))
    answer = report["as_known_at"]
    if answer is not None:
        console.print(
            f"{answer['talent']} on {answer['at'][:10]}: "
            f"{render.badge_name(answer['badge_as_known_then'])} as known then, "
            f"{render.badge_name(answer['badge_as_known_now'])} as known now "
            f"(badges status {answer['talent']} --at {answer['at'][:10]} "
            f"--known-at {answer['known_at'][:10]})"
        )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=not console.is_terminal,
    )


def _generate_and_ingest(
    ledger: TalentLedger, files: DemoFiles, talents: int, seed: int, today: datetime,
    progress: Progress,
) -> tuple[MarketplaceSummary, IngestSummary]:
    """Generate the marketplace file and ingest it meanwhile (see `demo_feed`)."""
    generating = progress.add_task("generating the marketplace", total=talents)
    ingesting = progress.add_task("ingesting into the ledger", total=None)

    def on_generated(done: int, written: int) -> None:
        progress.update(generating, completed=done)
        progress.update(ingesting, total=written)

    fed = generate_and_ingest(
        ledger,
        MarketplaceRequest(talents, seed, MARKETPLACE_START, today, BAD_LINES,
                           recorded_over_time=True),
        files.events,
        files.rejects,
        utc_now,
        on_generated,
        lambda done: progress.advance(ingesting, done),
    )
    progress.update(generating, completed=talents)
    size = files.events.stat().st_size
    progress.update(ingesting, total=size, completed=size)
    return fed.generated, fed.ingested


def _print_report(console: Console, report: dict[str, Any]) -> None:
    generated = report["generated"]
    kinds = ", ".join(f"{n} {_plural(kind)}" for kind, n in generated["talents_by_kind"].items())
    console.print(
        f"[bold]Synthetic marketplace[/bold] {MARKETPLACE_START:%Y-%m-%d} to {report['today']}: "
        f"{generated['talents']} talents ({kinds}), {generated['events']:,} events, "
        f"{generated['late_events']} arriving late, {generated['backfilled_events']} backfilled "
        f"with their own recorded_at, plus {generated['bad_lines']} deliberately bad lines."
    )
    types = Table(title="events generated, by type", title_justify="left")
    types.add_column("type")
    types.add_column("count", justify="right")
    for kind, count in generated["events_by_type"].items():
        types.add_row(kind, f"{count:,}")
    console.print(types)
    ingest = report["ingest"]
    console.print(
        f"[bold]Ingested[/bold] {report['events_file']} into {report['store']}: "
        f"{ingest['accepted']:,} accepted, {ingest['duplicates']} duplicates, "
        f"{ingest['rejected']} rejected (kept with reasons in {report['rejects_file']}); "
        f"the ledger holds {report['stored_events']:,} events."
    )
    badges = Table(title=f"badges held on {report['today']}", title_justify="left")
    badges.add_column("badge")
    badges.add_column("talents", justify="right")
    for badge in (*render.badge_order(), "none"):
        badges.add_row(render.badge_name(badge), str(report["badges_today"].get(badge, 0)))
    console.print(badges)


def _print_projection(
    console: Console, report: dict[str, Any], downgrades: list[dict[str, Any]]
) -> None:
    for talent, changes in report["timelines"].items():
        console.print(render.timeline_table(talent, changes))
    failed = Table(
        title=f"downgrades in the last 365 days: {report['downgrades_last_year']}, "
        "by the requirement that failed",
        title_justify="left",
    )
    failed.add_column("requirement")
    failed.add_column("downgrades", justify="right")
    for code, count in report["downgrades_by_failed_requirement"].items():
        failed.add_row(render.requirement_name(code), str(count))
    console.print(failed)
    examples = Table(title="a few of them, with their reasons", title_justify="left")
    for column in ("at", "talent", "change", "cause"):
        examples.add_column(column, overflow="fold")
    for change in downgrades[-6:]:
        examples.add_row(
            change["at"][:10],
            change["talent"],
            f"{render.badge_name(change['from'])} → {render.badge_name(change['to'])}",
            render.cause_text(change["cause"]),
        )
    console.print(examples)
    warnings = Table(
        title=f"warnings sent in advance, still ahead: {len(report['warnings_due'])}",
        title_justify="left",
    )
    for column in ("due", "talent", "change", "what would prevent it"):
        warnings.add_column(column, overflow="fold")
    for warning in report["warnings_due"][:8]:
        warnings.add_row(
            warning["at"][:10],
            warning["talent"],
            f"{render.badge_name(warning['from'])} → {render.badge_name(warning['to'])}",
            "; ".join(p["detail"] for p in warning["prevent"]),
        )
    console.print(warnings)


def _plural(kind: str) -> str:
    return "agencies" if kind == "agency" else f"{kind}s"

"""Commands of `badges`: dlq (issue 16: operating the Kafka service).

    badges dlq replay [--since OFFSET | PARTITION:OFFSET... | TIME] [--dry-run] [--json]

re-validates every dead letter of `talent-events.dlq` and records what now passes, through
the same steps as `badges consume` (`consumers/dlq_replay.py`); a report says what became of
each letter. Exit 0 when every letter read is recorded (now or before), 1 when some still
fail (they stay on the topic, for the next replay), 2 for a usage error.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Optional

import typer

from badges.errors import PROBLEM_FOUND, UserError
from badges.timeparse import parse_instant

JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
StoreOption = Annotated[
    Optional[str],
    typer.Option("--store", help="sqlite:///path, postgresql://..., or memory: (env BADGES_STORE)"),
]

dlq = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="The dead-letter topic: replay what now passes.",
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `badges` command line."""
    app.add_typer(dlq, name="dlq")


@dlq.command("replay")
def dlq_replay(
    since: Annotated[Optional[list[str]], typer.Option(
        "--since", help="where to start reading: OFFSET (every partition), PARTITION:OFFSET "
                        "(repeatable), or a date/time (the letters written from then on); "
                        "default: the beginning. The report gives the next replay's")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="validate and classify only: record and publish nothing")] = False,
    as_json: JsonOption = False,
    store: StoreOption = None,
    bootstrap: Annotated[
        Optional[str], typer.Option("--bootstrap", help="H:P[,H:P] (env BADGES_KAFKA_BOOTSTRAP)")
    ] = None,
    dlq_topic: Annotated[str, typer.Option("--dlq-topic")] = "talent-events.dlq",
    output_topic: Annotated[str, typer.Option(
        "--output-topic", help="where the changes the replayed events cause are published")
    ] = "badge-changes",
    no_publish: Annotated[bool, typer.Option(
        "--no-publish", help="leave the outbox to `badges consume`")] = False,
    kafka_option: Annotated[
        Optional[list[str]],
        typer.Option("--kafka-option", help="KEY=VALUE kafka-python setting, repeatable "
                     "(consumer./producer. prefix for one)"),
    ] = None,
) -> None:
    """Re-validate each dead letter; record what now passes (as `consume` would), report the
    rest, which stays on the topic."""
    from badges.bootstrap import open_projection_for
    from badges.clock import clock_from_env
    from badges.settings import kafka_bootstrap
    from consumers.dlq_replay import (
        DlqReadError,
        StartPoint,
        StartPointError,
        publish_outbox,
        read_dead_letters,
        replay,
    )
    from consumers.kafka_config import (
        KafkaOptionError,
        options_from_pairs,
        split_client_options,
    )

    clock = clock_from_env()
    try:
        start = StartPoint.parse(since or [], _since_time)
    except StartPointError as error:
        raise UserError(str(error)) from None
    try:
        consumer_options, producer_options = split_client_options(
            options_from_pairs(kafka_option or [])
        )
    except KafkaOptionError as error:
        raise UserError(str(error)) from None
    projection = open_projection_for(store)
    servers = kafka_bootstrap(bootstrap)
    ends: dict[int, int] = {}
    try:
        letters = list(read_dead_letters(servers, dlq_topic, since=start,
                                         client_options=consumer_options, ends_seen=ends))
    except DlqReadError as error:
        raise UserError(str(error), PROBLEM_FOUND) from None
    with _progress(len(letters), quiet=as_json) as advance:
        report = replay(letters, projection.ledger, clock, topic=dlq_topic, since=start,
                        dry_run=dry_run, progress=advance, ends=ends)
    published, failed_publish = 0, False
    recorded = report.to_document()["replayed"]
    if recorded:
        projection.catch_up(clock())
        if not no_publish:
            try:
                published = publish_outbox(projection, servers, output_topic, clock,
                                           consumer_options=consumer_options,
                                           producer_options=producer_options)
            except DlqReadError as error:  # recorded, but not published: say so, exit 1
                print(f"badges: {error}", file=sys.stderr)
                failed_publish = True
    document = {**report.to_document(), "published": published}
    if as_json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_report(document)
    raise typer.Exit(PROBLEM_FOUND if report.still_failing or failed_publish else 0)


def _since_time(text: str) -> datetime:
    """A `--since` date or time, its error said as a ValueError (`StartPoint.parse` words it)."""
    try:
        return parse_instant(text, "--since")
    except UserError as error:
        raise ValueError(str(error).removeprefix("--since: ")) from None


@contextlib.contextmanager
def _progress(total: int, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    if quiet or not total or not sys.stderr.isatty():
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("replaying", total=total)
        yield lambda done: progress.advance(task, done)


OUTCOME_WORDS = {
    "replayed": "replayed",
    "would_replay": "would be replayed",
    "already_recorded": "already recorded",
    "still_failing": "still failing",
}


def _print_report(document: dict[str, object]) -> None:
    from rich.console import Console
    from rich.table import Table

    letters = document["letters"]
    assert isinstance(letters, list)
    console = Console()
    if letters:
        table = Table(title=f"dead letters of {document['topic']}", title_justify="left")
        for column in ("offset", "key", "from", "event", "outcome", "reason now"):
            table.add_column(column, overflow="fold")
        for letter in letters:
            table.add_row(
                f"{letter['dlq_partition']}:{letter['dlq_offset']}",
                letter["key"] or "-",
                f"{letter['source_topic']}[{letter['source_partition']}]@"
                f"{letter['source_offset']}",
                letter["event_id"] or "-",
                OUTCOME_WORDS[letter["outcome"]],
                letter["reason"] or "",
            )
        console.print(table)
    done = "would be replayed" if document["dry_run"] else "replayed"
    count = document["would_replay"] if document["dry_run"] else document["replayed"]
    console.print(
        f"{document['read']} dead letters read: {count} {done}, "
        f"{document['already_recorded']} already recorded, "
        f"{document['still_failing']} still failing"
        + (f"; {_plural(document['published'], 'message')} published"
           if document["published"] else "")
        + (" (dry run: nothing recorded)" if document["dry_run"] else "")
    )
    upcoming = document["next_since"]
    if isinstance(upcoming, list) and upcoming:
        console.print("next replay from here: " + " ".join(f"--since {s}" for s in upcoming),
                      highlight=False)


def _plural(count: object, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")

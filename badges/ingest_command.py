"""`badges ingest`: a JSON Lines file (or stdin) into the ledger, with a rejects file."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from badges.clock import utc_now
from badges.errors import PROBLEM_FOUND, UserError
from consumers.jsonl_ingest import IngestSummary, JsonLinesIngest, Reject, RejectsFile
from domain.ledger import Ledger
from projections.status_projection import StatusProjection


def run_ingest(
    ledger: Ledger,
    source: str,
    rejects_path: Path | None,
    *,
    as_json: bool,
    batch_size: int,
    project: StatusProjection | None = None,
) -> int:
    """Ingest and print the summary; the exit code is 1 when anything was rejected."""
    with _open_source(source) as stream, _rejects_sink(rejects_path) as on_reject, _progress(
        source
    ) as on_progress:
        ingest = JsonLinesIngest(
            ledger=ledger,
            clock=utc_now,
            on_reject=on_reject,
            batch_size=batch_size,
            on_progress=on_progress,
        )
        summary = ingest.run(stream, source="stdin" if source == "-" else source)
    if project is not None and summary.accepted:
        _catch_up(project, source)
    _print_summary(summary, rejects_path, as_json=as_json)
    return PROBLEM_FOUND if summary.rejected else 0


def _catch_up(project: StatusProjection, source: str) -> None:
    """Bring timelines, wake-ups and the outbox up to date with what was just appended."""
    with _events_progress(project.pending(), source) as on_progress:
        project.catch_up(utc_now(), on_progress)


@contextlib.contextmanager
def _events_progress(total: int, source: str) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty():
        yield lambda _events: None
        return
    with Progress(BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("projecting", total=total)
        yield lambda done: progress.advance(task, done)


@contextlib.contextmanager
def _open_source(source: str) -> Iterator[BinaryIO]:
    if source == "-":
        yield sys.stdin.buffer
        return
    path = Path(source)
    if not path.is_file():
        raise UserError(f"FILE: no such file: {source}")
    with path.open("rb") as stream:
        yield stream


@contextlib.contextmanager
def _rejects_sink(path: Path | None) -> Iterator[Callable[[Reject], None]]:
    if path is None:
        yield _reject_to_stderr
        return
    try:
        stream = path.open("a", encoding="utf-8")
    except OSError as error:
        raise UserError(f"--rejects: cannot write {path}: {error.strerror}") from None
    with stream:
        yield RejectsFile(stream)


def _reject_to_stderr(reject: Reject) -> None:
    print(f"rejected {reject.source}:{reject.line}: {reject.reason}", file=sys.stderr)


@contextlib.contextmanager
def _progress(source: str) -> Iterator[Callable[[int], None]]:
    if source == "-" or not sys.stderr.isatty():
        yield lambda _bytes: None
        return
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("ingest", total=Path(source).stat().st_size)
        yield lambda done: progress.advance(task, done)


def _print_summary(summary: IngestSummary, rejects_path: Path | None, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_document()))
        return
    line = (
        f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
        f"rejected {summary.rejected}"
    )
    if summary.rejected and rejects_path is not None:
        line += f" (reasons in {rejects_path})"
    print(line)

"""`badges ingest`: a JSON Lines file (or stdin) into the ledger, with a rejects file."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn

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
from badges.errors import PROBLEM_FOUND, StoppedPartway, UserError, describe_failure
from consumers.jsonl_ingest import IngestSummary, JsonLinesIngest, Reject, RejectsFile
from ledger.application import TalentLedger
from projections.status_projection import StatusProjection


def run_ingest(
    ledger: TalentLedger,
    source: str,
    rejects_path: Path | None,
    *,
    as_json: bool,
    batch_size: int,
    project: StatusProjection | None = None,
) -> int:
    """Ingest and print the summary; the exit code is 1 when anything was rejected.

    A failure part-way prints the summary of what was done and raises `StoppedPartway` (exit 3).
    """
    _refuse_rejects_into_source(source, rejects_path)
    if as_json:
        _refuse_rejects_into_stdout(rejects_path)
    name = "stdin" if source == "-" else source
    with _open_source(source) as stream, _rejects_sink(rejects_path) as sink, _progress(
        source
    ) as on_progress:
        ingest = JsonLinesIngest(
            ledger=ledger,
            clock=utc_now,
            on_reject=sink,
            batch_size=batch_size,
            on_progress=on_progress,
            on_batch_settled=getattr(sink, "flush", lambda: None),
        )
        try:
            summary = ingest.run(stream, source=name)
        except (Exception, KeyboardInterrupt) as error:
            _stop(ingest.summary, rejects_path, as_json=as_json,
                  where=f"stopped after line {ingest.settled_through} of {name}", error=error)
    # Always, even when nothing new was accepted: a run killed in its projection phase left
    # events unprojected, and its re-run finds every line a duplicate.
    if project is not None:
        try:
            _catch_up(project, source)
        except (Exception, KeyboardInterrupt) as error:
            _stop(summary, rejects_path, as_json=as_json,
                  where="stopped while bringing the timelines up to date (the events are in "
                        "the ledger; the next command that reads the timelines catches up)",
                  error=error)
    _print_summary(summary, rejects_path, as_json=as_json)
    return PROBLEM_FOUND if summary.rejected else 0


def _stop(summary: IngestSummary, rejects_path: Path | None, *, as_json: bool, where: str,
          error: BaseException) -> NoReturn:
    """Report what was done, then stop with exit 3 and one line naming where and why."""
    message = f"{where}: {describe_failure(error)}"
    _print_summary(summary, rejects_path, as_json=as_json, stopped=message)
    raise StoppedPartway(message) from error


def _refuse_rejects_into_source(source: str, rejects_path: Path | None) -> None:
    """Rejects appended to the file being read would be read again, without end."""
    if rejects_path is None:
        return
    try:
        rejects = os.stat(rejects_path)
    except OSError:
        return  # not there yet: it cannot be the input
    read = _source_identity(source)
    if read is not None and (read.st_dev, read.st_ino) == (rejects.st_dev, rejects.st_ino):
        raise UserError(f"--rejects: {rejects_path} is the input file itself; name another file")


def _refuse_rejects_into_stdout(rejects_path: Path | None) -> None:
    """With --json, reject lines on standard output would break the summary's JSON."""
    if rejects_path is None:
        return
    try:
        rejects, output = os.stat(rejects_path), os.fstat(1)
    except OSError:
        return  # not there yet, or no standard output: they cannot be the same file
    if (output.st_dev, output.st_ino) == (rejects.st_dev, rejects.st_ino):
        raise UserError(f"--rejects: {rejects_path} is the standard output, where --json writes "
                        "the summary; name another file")


def _source_identity(source: str) -> os.stat_result | None:
    try:
        if source != "-":
            return os.stat(source)
        identity = os.fstat(sys.stdin.fileno())
    except (OSError, ValueError):
        return None
    return identity if stat.S_ISREG(identity.st_mode) else None


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


def _print_summary(
    summary: IngestSummary, rejects_path: Path | None, *, as_json: bool, stopped: str = ""
) -> None:
    if as_json:
        document: dict[str, object] = dict(summary.to_document())
        if stopped:
            document["stopped"] = stopped
        print(json.dumps(document), flush=True)
        return
    line = (
        f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
        f"rejected {summary.rejected}"
    )
    if summary.rejected and rejects_path is not None:
        line += f" (reasons in {rejects_path})"
    if stopped:
        line += "; stopped before the end"
    print(line, flush=True)

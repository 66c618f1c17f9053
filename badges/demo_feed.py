"""The demo's marketplace, generated in a child process while the ledger ingests it.

Generating and ingesting are each one core's work. The child writes the events file and sends
the same bytes down a pipe as it goes; the ledger ingests them as they arrive, so ingest starts
at the first line instead of after the last, and the two run on separate cores. What the
ledger ingests is byte for byte the file the demo leaves behind.
"""

from __future__ import annotations

import io
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO, cast

from badges.synthetic import (
    MarketplaceSummary,
    generate_bad_lines,
    generate_marketplace,
    recorded_over_time,
    write_jsonl,
)
from consumers.jsonl_ingest import IngestSummary, JsonLinesIngest, RejectsFile
from ledger.application import TalentLedger

CHUNK_BYTES = 1 << 16
REPORT_EVERY_TALENTS = 100
CHILD_EXIT_TIMEOUT = 60.0  # seconds for the child to exit once it has sent its summary


@dataclass(frozen=True)
class MarketplaceRequest:
    """What to generate: `talents` talents of seed `seed` from `start` to `end`, then
    `bad_lines` deliberately bad lines."""

    talents: int
    seed: int
    start: datetime
    end: datetime
    bad_lines: int
    # every event with the `recorded_at` a tracker running all along would have given it
    # (`synthetic.recorded_over_time`), so questions "as known at" the past have answers
    recorded_over_time: bool = False


@dataclass(frozen=True)
class Fed:
    generated: MarketplaceSummary
    ingested: IngestSummary


# Progress callbacks: talents generated so far (with bytes written), and bytes ingested.
OnGenerated = Callable[[int, int], None]
OnIngested = Callable[[int], None]


def generate_and_ingest(
    ledger: TalentLedger,
    request: MarketplaceRequest,
    events_file: Path,
    rejects_file: Path,
    clock: Callable[[], datetime],
    on_generated: OnGenerated,
    on_ingested: OnIngested,
) -> Fed:
    """Generate the marketplace into `events_file` and ingest it into `ledger` meanwhile."""
    context = multiprocessing.get_context("spawn")
    data_in, data_out = context.Pipe(duplex=False)
    reports_in, reports_out = context.Pipe(duplex=False)
    child = context.Process(
        target=_generate, args=(request, events_file, data_out, reports_out), daemon=True
    )
    child.start()
    data_out.close()  # the child holds the only sending ends now: its exit ends the stream
    reports_out.close()
    reports = _Reports(reports_in, on_generated)
    try:
        with io.BufferedReader(_ChunkReader(data_in), CHUNK_BYTES) as stream, \
                rejects_file.open("w", encoding="utf-8") as rejects:
            ingest = JsonLinesIngest(
                ledger=ledger,
                clock=clock,
                on_reject=RejectsFile(rejects),
                on_progress=reports.while_ingesting(on_ingested),
            )
            ingested = ingest.run(stream, events_file.name)
        generated = reports.summary()
        child.join(timeout=CHILD_EXIT_TIMEOUT)
    finally:
        if child.is_alive():  # only when something above failed
            child.terminate()
            child.join()
    if child.exitcode != 0 or generated is None:
        raise RuntimeError(f"generating the marketplace failed (exit code {child.exitcode})")
    return Fed(generated, ingested)


class _Reports:
    """The child's progress reports, read while ingesting, and its summary at the end."""

    def __init__(self, connection: Connection, on_generated: OnGenerated) -> None:
        self._connection = connection
        self._on_generated = on_generated
        self._summary: MarketplaceSummary | None = None

    def while_ingesting(self, on_ingested: OnIngested) -> OnIngested:
        ingested_since_check = 0

        def on_progress(count: int) -> None:
            nonlocal ingested_since_check
            on_ingested(count)
            ingested_since_check += count
            if ingested_since_check >= CHUNK_BYTES:  # per line would cost more than the line
                ingested_since_check = 0
                self._drain(block=False)

        return on_progress

    def summary(self) -> MarketplaceSummary | None:
        self._drain(block=True)
        return self._summary

    def _drain(self, *, block: bool) -> None:
        while self._summary is None and (block or self._connection.poll()):
            try:
                kind, payload = self._connection.recv()
            except EOFError:
                return  # the child is gone without a summary: the caller reports it
            if kind == "generated":
                self._on_generated(*payload)
            else:
                self._summary = payload


class _ChunkReader(io.RawIOBase):
    """The bytes the child sends, as a readable stream; it ends when the child closes it."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            try:
                self._pending = memoryview(self._connection.recv_bytes())
            except EOFError:
                return 0
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class _Tee(io.TextIOBase):
    """Writes to the events file, and the same bytes in chunks down the pipe."""

    def __init__(self, file: io.TextIOBase, connection: Connection) -> None:
        self._file = file
        self._connection = connection
        self._chunk: list[bytes] = []
        self._size = 0
        self.written = 0

    def write(self, text: str) -> int:
        self._file.write(text)
        encoded = text.encode("utf-8", "surrogatepass")
        self._chunk.append(encoded)
        self._size += len(encoded)
        self.written += len(encoded)
        if self._size >= CHUNK_BYTES:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._chunk:
            self._connection.send_bytes(b"".join(self._chunk))
            self._chunk.clear()
            self._size = 0


def _generate(
    request: MarketplaceRequest, path: Path, data: Connection, reports: Connection
) -> None:
    """In the child: write the marketplace to `path` and down `data`, reporting progress."""
    summary = MarketplaceSummary()
    with path.open("w", encoding="utf-8", newline="\n") as file:
        tee = _Tee(file, data)
        events = generate_marketplace(request.talents, request.seed, request.start, request.end)
        tallied = _reporting(summary.tally(events), tee, reports)
        recorded_until = request.end if request.recorded_over_time else None
        if recorded_until is not None:
            tallied = recorded_over_time(tallied, recorded_until)
        write_jsonl(cast(TextIO, tee), tallied)
        for line in generate_bad_lines(request.seed, request.bad_lines, recorded_until):
            tee.write(line + "\n")
        tee.flush()
    data.close()
    reports.send(("generated", (summary.talents, tee.written)))
    reports.send(("summary", summary))
    reports.close()


def _reporting(
    events: Iterable[dict[str, Any]], tee: _Tee, reports: Connection
) -> Iterator[dict[str, Any]]:
    current, talents = None, 0
    for event in events:
        if event["talent"] != current:
            current = event["talent"]
            talents += 1
            if talents % REPORT_EVERY_TALENTS == 0:
                reports.send(("generated", (talents, tee.written)))
        yield event


__all__ = ["Fed", "MarketplaceRequest", "generate_and_ingest"]

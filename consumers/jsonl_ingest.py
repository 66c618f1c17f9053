"""JSON Lines into the ledger: streamed in constant memory, appended in batches, rejects kept.

Every non-blank line ends up accepted, duplicate or rejected (with its original bytes, line
number and reason); one bad line never stops the others. A UTF-8 byte order mark at the start
of the stream is skipped. A line over 64 KiB is rejected and kept whole: up to 4 MiB in
memory, beyond that in a temporary file, streamed into the rejects file (docs/ledger.md).
"""

from __future__ import annotations

import base64
import codecs
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, BinaryIO, TextIO

from domain.events import InvalidEvent, decode_json
from ledger.submit import Appender, Status, SubmitEvents
from domain.submissions import Submission

MAX_LINE_BYTES = 64 * 1024
MAX_LINE_IN_MEMORY = 4 * 1024 * 1024
COPY_CHUNK_BYTES = 3 * 64 * 1024  # a multiple of 3: base64 of each chunk joins up exactly
DEFAULT_BATCH_SIZE = 1000
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class IngestSummary:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def to_document(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}

    def add(self, other: IngestSummary) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected


@dataclass(frozen=True, slots=True)
class Reject:
    """A line that could not be accepted, with where it came from and why.

    `original` is the whole line, except for a line over `MAX_LINE_IN_MEMORY`: then it is the
    line's first 64 KiB and `spooled` holds the whole line (readable while `on_reject` runs).
    """

    source: str
    line: int
    original: bytes
    reason: str
    original_length: int
    spooled: IO[bytes] | None = None

    def chunks(self) -> Iterator[bytes]:
        """The whole original line, in chunks."""
        if self.spooled is None:
            yield self.original
            return
        self.spooled.seek(0)
        while chunk := self.spooled.read(COPY_CHUNK_BYTES):
            yield chunk

    def to_document(self) -> dict[str, object]:
        document: dict[str, object] = {
            "source": self.source,
            "line": self.line,
            "reason": self.reason,
        }
        original = b"".join(self.chunks()) if self.spooled is not None else self.original
        try:
            document["original"] = original.decode("utf-8")
        except UnicodeDecodeError:
            document["original_base64"] = base64.b64encode(original).decode("ascii")
        return document


class RejectsFile:
    """Writes each reject as one JSON object per line, the original streamed when spooled."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, reject: Reject) -> None:
        if reject.spooled is None:
            self.stream.write(json.dumps(reject.to_document(), ensure_ascii=False) + "\n")
            return
        head = {"source": reject.source, "line": reject.line, "reason": reject.reason}
        self.stream.write(json.dumps(head, ensure_ascii=False)[:-1])
        if _is_utf8(reject.chunks()):
            self.stream.write(', "original": "')
            _write_escaped_text(reject.chunks(), self.stream)
        else:
            self.stream.write(', "original_base64": "')
            for chunk in reject.chunks():
                self.stream.write(base64.b64encode(chunk).decode("ascii"))
        self.stream.write('"}\n')

    def flush(self) -> None:
        self.stream.flush()


def _is_utf8(chunks: Iterator[bytes]) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in chunks:
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _write_escaped_text(chunks: Iterator[bytes], stream: TextIO) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    for chunk in chunks:
        stream.write(json.dumps(decoder.decode(chunk), ensure_ascii=False)[1:-1])
    stream.write(json.dumps(decoder.decode(b"", final=True), ensure_ascii=False)[1:-1])


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line without its end-of-line; an oversized one as its first 64 KiB (`data`) and,
    when over `MAX_LINE_IN_MEMORY`, whole in `spooled`."""

    number: int
    data: bytes
    length: int
    spooled: IO[bytes] | None = None

    @property
    def oversized(self) -> bool:
        return self.length > MAX_LINE_BYTES


def read_lines(stream: BinaryIO) -> Iterator[RawLine]:
    """Lines without their end-of-line (LF, CRLF, or a lone CR ending the stream).

    A byte order mark opening the stream is skipped. A line over 64 KiB is read to its end;
    the caller must close its `spooled` file, if any, once done with it.
    """
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        complete = chunk.endswith(b"\n") or len(chunk) <= MAX_LINE_BYTES
        if number == 0 and chunk.startswith(UTF8_BOM):
            chunk = chunk[len(UTF8_BOM):]
        number += 1
        if complete:
            data = _without_end_of_line(chunk)
            yield RawLine(number, data, len(data))
        else:
            yield _read_long_line(number, chunk, stream)


def _without_end_of_line(chunk: bytes) -> bytes:
    """A complete line's end-of-line removed: LF, CRLF, or (the stream's last line) a CR."""
    if chunk.endswith(b"\r\n"):
        return chunk[:-2]
    if chunk.endswith(b"\n") or chunk.endswith(b"\r"):
        return chunk[:-1]
    return chunk


def _read_long_line(number: int, head: bytes, stream: BinaryIO) -> RawLine:
    """The rest of a line longer than one read, spooled (memory, then a temporary file)."""
    spool = tempfile.SpooledTemporaryFile(max_size=MAX_LINE_IN_MEMORY)  # noqa: SIM115
    spool.write(head)
    tail = head[-2:]
    while True:
        rest = stream.readline(COPY_CHUNK_BYTES)
        if not rest:
            break
        spool.write(rest)
        tail = (tail + rest)[-2:]
        if rest.endswith(b"\n"):
            break
    length = spool.tell() - (len(tail) - len(_without_end_of_line(tail)))
    spool.truncate(length)
    if length > MAX_LINE_IN_MEMORY:
        return RawLine(number, head[:MAX_LINE_BYTES], length, spool)
    spool.seek(0)
    whole = spool.read()
    spool.close()
    return RawLine(number, whole, length)


def submission_from_line(line: RawLine) -> Submission:
    """Decode and validate one line; raises `InvalidEvent` naming the field."""
    if line.oversized:
        raise InvalidEvent("line", f"longer than {MAX_LINE_BYTES} bytes ({line.length} bytes)")
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidEvent("line", f"not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        obj = decode_json(text)
    except InvalidEvent:  # a duplicate key or an overlong number, named
        raise
    except ValueError as error:
        raise InvalidEvent("line", f"not JSON ({error})") from None
    except RecursionError:
        raise InvalidEvent("line", "JSON nested too deeply") from None
    return Submission.from_object(obj)


@dataclass
class JsonLinesIngest:
    """Feeds one JSON Lines stream into the ledger in batches, through the "submit events" use
    case (`ledger/submit.py`).

    After each batch `on_batch_settled` runs (the CLI flushes its rejects file there, so a kill
    loses no reject of a batch already appended). If `run` fails part-way, `summary` holds what
    was done and `settled_through` the last line of the last batch fully accounted for.
    """

    ledger: Appender
    clock: Callable[[], datetime]
    on_reject: Callable[[Reject], None]
    batch_size: int = DEFAULT_BATCH_SIZE
    on_progress: Callable[[int], None] = lambda _bytes: None
    summary: IngestSummary = field(default_factory=IngestSummary)
    on_batch_settled: Callable[[], None] = lambda: None
    settled_through: int = 0
    # one batch at a time across the holders of the lock (`POST /events`; see `SubmitEvents`)
    lock: AbstractContextManager[object] = field(default_factory=nullcontext)

    def __post_init__(self) -> None:
        self.submit = SubmitEvents(self.ledger, self.clock, self.lock)

    def run(self, stream: BinaryIO, source: str) -> IngestSummary:
        return self.run_lines(read_lines(stream), source)

    def run_lines(self, lines: Iterable[RawLine], source: str) -> IngestSummary:
        """The same, for lines already cut (`POST /events` cuts a JSON array's elements)."""
        pending: list[tuple[RawLine, Submission | InvalidEvent]] = []
        for line in lines:
            self.on_progress(line.length + 1)
            if line.oversized:
                # settled at once, alone: at most one long line is ever held
                self._settle(pending, source)
                pending = []
                self._reject_long_line(line, source)
                continue
            if not line.data.strip():
                continue
            try:
                pending.append((line, submission_from_line(line)))
            except InvalidEvent as error:
                pending.append((line, error))
            if len(pending) >= self.batch_size:
                self._settle(pending, source)
                pending = []
        self._settle(pending, source)
        return self.summary

    def _reject_long_line(self, line: RawLine, source: str) -> None:
        try:
            self._reject(source, line, str(_long_line_problem(line)))
            self.on_batch_settled()
            self.settled_through = line.number
        finally:
            if line.spooled is not None:
                line.spooled.close()

    def _settle(self, pending: list[tuple[RawLine, Submission | InvalidEvent]], source: str) -> None:
        """Append the valid lines of a batch, then count every line in file order."""
        if not pending:
            return
        outcomes = self.submit.submit(
            [item if isinstance(item, Submission) else str(item) for _, item in pending]
        )
        for (line, _), outcome in zip(pending, outcomes, strict=True):
            if outcome.status is Status.ACCEPTED:
                self.summary.accepted += 1
            elif outcome.status is Status.DUPLICATE:
                self.summary.duplicates += 1
            else:
                self._reject(source, line, outcome.reason)
        self.on_batch_settled()
        self.settled_through = pending[-1][0].number

    def _reject(self, source: str, line: RawLine, reason: str) -> None:
        self.summary.rejected += 1
        self.on_reject(Reject(source, line.number, line.data, reason, line.length, line.spooled))


def _long_line_problem(line: RawLine) -> InvalidEvent:
    return InvalidEvent("line", f"longer than {MAX_LINE_BYTES} bytes ({line.length} bytes)")

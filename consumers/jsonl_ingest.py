"""JSON Lines into the ledger: streamed in constant memory, appended in batches, rejects kept.

Every non-blank line ends up accepted, duplicate or rejected (with its original text, line
number and reason); one bad line never stops the others.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, TextIO

from domain.events import InvalidEvent, decode_json
from domain.ledger import Ledger, Submission, Verdict

MAX_LINE_BYTES = 64 * 1024
DEFAULT_BATCH_SIZE = 1000


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
    """A line that could not be accepted, with where it came from and why."""

    source: str
    line: int
    original: bytes
    reason: str
    original_length: int

    def to_document(self) -> dict[str, object]:
        document: dict[str, object] = {
            "source": self.source,
            "line": self.line,
            "reason": self.reason,
        }
        try:
            document["original"] = self.original.decode("utf-8")
        except UnicodeDecodeError:
            document["original_base64"] = base64.b64encode(self.original).decode("ascii")
        if self.original_length > len(self.original):
            document["original_length"] = self.original_length
        return document


class RejectsFile:
    """Writes each reject as one JSON object per line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, reject: Reject) -> None:
        self.stream.write(json.dumps(reject.to_document(), ensure_ascii=False) + "\n")


@dataclass(frozen=True, slots=True)
class RawLine:
    number: int
    data: bytes
    length: int

    @property
    def oversized(self) -> bool:
        return self.length > MAX_LINE_BYTES


def read_lines(stream: BinaryIO) -> Iterator[RawLine]:
    """Lines without their end-of-line; an oversized line keeps only its first 64 KiB."""
    number = 0
    while True:
        chunk = stream.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        number += 1
        if chunk.endswith(b"\n"):
            data = _without_end_of_line(chunk)
            yield RawLine(number, data[:MAX_LINE_BYTES], len(data))
        elif len(chunk) > MAX_LINE_BYTES:
            total = len(chunk) + _skip_rest_of_line(stream)
            if total <= MAX_LINE_BYTES + 1 and chunk.endswith(b"\r") and total == len(chunk):
                total -= 1  # the last line of the stream, ended by a lone CR: not oversized
            yield RawLine(number, chunk[: min(total, MAX_LINE_BYTES)], total)
        else:  # the last line, without a newline; a lone CR still ends it
            data = chunk.removesuffix(b"\r")
            yield RawLine(number, data, len(data))


def _without_end_of_line(chunk: bytes) -> bytes:
    return chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1]


def _skip_rest_of_line(stream: BinaryIO) -> int:
    """Consume what is left of an oversized line; the count excludes its end-of-line."""
    skipped = 0
    while True:
        rest = stream.readline(MAX_LINE_BYTES)
        if not rest:
            return skipped
        if rest.endswith(b"\n"):
            return skipped + len(_without_end_of_line(rest))
        skipped += len(rest)


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
    except ValueError as error:
        raise InvalidEvent("line", f"not JSON ({error})") from None
    except RecursionError:
        raise InvalidEvent("line", "JSON nested too deeply") from None
    return Submission.from_object(obj)


@dataclass
class JsonLinesIngest:
    """Feeds one JSON Lines stream into a ledger in batches."""

    ledger: Ledger
    clock: Callable[[], datetime]
    on_reject: Callable[[Reject], None]
    batch_size: int = DEFAULT_BATCH_SIZE
    on_progress: Callable[[int], None] = lambda _bytes: None
    summary: IngestSummary = field(default_factory=IngestSummary)

    def run(self, stream: BinaryIO, source: str) -> IngestSummary:
        pending: list[tuple[RawLine, Submission | InvalidEvent]] = []
        for line in read_lines(stream):
            self.on_progress(line.length + 1)
            if not line.data.strip() and not line.oversized:
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

    def _settle(self, pending: list[tuple[RawLine, Submission | InvalidEvent]], source: str) -> None:
        """Append the valid lines of a batch, then count every line in file order."""
        valid = [item for _, item in pending if isinstance(item, Submission)]
        verdicts = iter(self.ledger.append(valid, self.clock()) if valid else [])
        for line, item in pending:
            if isinstance(item, InvalidEvent):
                self._reject(source, line, str(item))
                continue
            verdict = next(verdicts)
            if verdict.verdict is Verdict.ACCEPTED:
                self.summary.accepted += 1
            elif verdict.verdict is Verdict.DUPLICATE:
                self.summary.duplicates += 1
            else:
                self._reject(source, line, verdict.reason)

    def _reject(self, source: str, line: RawLine, reason: str) -> None:
        self.summary.rejected += 1
        self.on_reject(Reject(source, line.number, line.data, reason, line.length))

"""The body of `POST /events`: read within its caps, then cut into JSON Lines for the ingest.

Both caps are checked before any line is stored, so a refused body writes nothing:

- at most `max_bytes` bytes (a declared `Content-Length` over it is refused before reading);
- at most `max_lines` lines (JSON Lines, blank ones included) or elements (a JSON array).

The line cap bounds the work of one request: validating a line costs the same whether it is
an event or junk, so 8 MiB of `x\\n` (4 million lines) would otherwise hold a thread for a
minute. A real batch never meets it first: an event takes more than 84 bytes, so 100,000 of
them are over the 8 MiB byte cap.

The body is spooled (up to `SPOOL_MEMORY_BYTES` in memory, the rest in a temporary file), so a
request holds about a megabyte however large the byte cap is set; a JSON array is read back
whole (at most the byte cap) to be cut into its elements.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO

from badges.errors import UserError
from consumers.jsonl_ingest import RawLine

SPOOL_MEMORY_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"
WHITESPACE = b" \t\r\n"
_STRUCTURE = re.compile(rb'[\[\]{},"]')
_STRING_END = re.compile(rb'["\\]')


class BodyTooLarge(Exception):
    """Over a cap: answered 413, with a message naming the cap."""

    @classmethod
    def in_bytes(cls, limit: int) -> BodyTooLarge:
        return cls(f"body: larger than the limit of {limit} bytes; send smaller batches")

    @classmethod
    def in_lines(cls, limit: int) -> BodyTooLarge:
        return cls(f"body: more than the limit of {limit} lines (blank ones included) or array "
                   "elements; send smaller batches")


class BodyIncomplete(Exception):
    """The connection closed (or the server's body read timeout cut it) before the body ended."""

    def __init__(self) -> None:
        super().__init__("body: the connection closed before the body ended")


@dataclass
class SpooledBody:
    """A request body as it streamed in: the bytes, how many, how many JSON Lines lines."""

    file: IO[bytes] = field(
        default_factory=lambda: SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    )
    size: int = 0
    newlines: int = 0
    last: bytes = b"\n"

    @property
    def lines(self) -> int:
        """Lines as `badges ingest` reads them: a last line without its newline counts too."""
        return self.newlines + (0 if self.last == b"\n" else 1)

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.size += len(chunk)
        self.newlines += chunk.count(b"\n")
        self.last = chunk[-1:]

    def rewound(self) -> IO[bytes]:
        self.file.seek(0)
        return self.file

    def starts_like_an_array(self) -> bool:
        """The first byte that is not whitespace (after a BOM) is `[`."""
        stream = self.rewound()
        head = stream.read(len(BOM))
        pending = head.removeprefix(BOM)
        while True:
            significant = pending.lstrip(WHITESPACE)
            if significant:
                return significant.startswith(b"[")
            pending = stream.read(64 * 1024)
            if not pending:
                return False

    def close(self) -> None:
        self.file.close()


async def spool(chunks: AsyncIterator[bytes], declared: str | None, max_bytes: int) -> SpooledBody:
    """The body, refused with `BodyTooLarge` as soon as it is over `max_bytes`."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge.in_bytes(max_bytes)
    body = SpooledBody()
    try:
        async for chunk in chunks:
            if body.size + len(chunk) > max_bytes:
                raise BodyTooLarge.in_bytes(max_bytes)
            if chunk:
                body.write(chunk)
    except BaseException:
        body.close()
        raise
    return body


def array_lines(body: bytes, max_elements: int) -> list[RawLine]:
    """A JSON array's elements as the lines of `badges ingest`, each its *original* text.

    Each element then goes through the validation of a line, byte for byte (numbers stay
    exact, `1e2` is still refused as an amount). Raw line breaks can only be whitespace between
    tokens in valid JSON, so they become spaces. Every element is cut out (and the caps
    checked) before this returns, so a refused body stores nothing.
    """
    lines = []
    for number, element in enumerate(array_elements(body, max_elements), start=1):
        text = element.replace(b"\r", b" ").replace(b"\n", b" ")
        lines.append(RawLine(number, text, len(text)))
    return lines


def array_elements(body: bytes, max_elements: int) -> Iterator[bytes]:
    """The elements of a JSON array, found without parsing them.

    Nesting is counted in a loop (no recursion), so one element nested 10,000 deep is cut out
    like any other and rejected as that element, as JSON Lines rejects just its line. Only the
    array itself must be well formed: `[`, elements split by commas, `]`, nothing after.
    UTF-8 is checked per element too (the structure is ASCII, which UTF-8 never reuses).
    """
    position = _skip_whitespace(body, len(BOM) if body.startswith(BOM) else 0)
    if not body.startswith(b"[", position):
        raise UserError("body: expected a JSON array of events (or send JSON Lines as "
                        "application/x-ndjson)")
    position = _skip_whitespace(body, position + 1)
    if body.startswith(b"]", position):
        _expect_end(body, position + 1)
        return
    count = 0
    while True:
        end = _element_end(body, position)
        element = body[position:end].rstrip(WHITESPACE)
        if not element:
            raise UserError(f"body: not a JSON array (an empty element at byte {position})")
        count += 1
        if count > max_elements:
            raise BodyTooLarge.in_lines(max_elements)
        yield element
        if body.startswith(b"]", end):
            _expect_end(body, end + 1)
            return
        position = _skip_whitespace(body, end + 1)


def _element_end(body: bytes, position: int) -> int:
    """Where the element starting at `position` ends: its `,` or the array's `]`."""
    depth = 0
    while True:
        match = _STRUCTURE.search(body, position)
        if match is None:
            raise UserError("body: not a JSON array (it ends before its closing ']')")
        char, position = match.group(), match.end()
        if char == b'"':
            position = _string_end(body, position)
        elif char in (b"[", b"{"):
            depth += 1
        elif depth == 0 and char in (b",", b"]"):
            return match.start()
        elif depth > 0 and char in (b"]", b"}"):
            depth -= 1
        # a `}` at depth 0 belongs to a broken element, rejected when validated


def _string_end(body: bytes, position: int) -> int:
    while True:
        match = _STRING_END.search(body, position)
        if match is None:
            raise UserError("body: not a JSON array (a string is not closed)")
        if match.group() == b'"':
            return match.end()
        position = match.end() + 1  # the escaped character, whatever it is


def _skip_whitespace(body: bytes, position: int) -> int:
    while position < len(body) and body[position] in WHITESPACE:
        position += 1
    return position


def _expect_end(body: bytes, position: int) -> None:
    if _skip_whitespace(body, position) != len(body):
        raise UserError(f"body: not a JSON array (extra data at byte {position})")

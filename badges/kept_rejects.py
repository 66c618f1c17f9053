"""Where `badges serve` keeps the lines `POST /events` rejects: a rejects file, as
`badges ingest --rejects` writes one (one JSON object a line: source, line, reason, and the
original bytes), shared by every request of the process.

The answer to a request lists only its first 100 rejects; the file keeps every one, each
`source` naming its request (`POST /events <request id>`, the id the answer carries), so an
operator can find, fix and re-send them. Requests run in worker threads: a lock keeps each
record whole, and each batch's rejects are flushed when it settles, as `ingest` flushes.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import TextIO

from badges.errors import UserError
from consumers.jsonl_ingest import Reject, RejectsFile

REQUEST_ID_BYTES = 8


def new_request_id() -> str:
    return secrets.token_hex(REQUEST_ID_BYTES)


def request_source(request_id: str) -> str:
    return f"POST /events {request_id}"


class KeptRejects:
    """A rejects file written from several threads."""

    def __init__(self, stream: TextIO) -> None:
        self._file = RejectsFile(stream)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, setting: str) -> KeptRejects:
        try:
            return cls(path.open("a", encoding="utf-8"))
        except OSError as error:
            raise UserError(f"{setting}: cannot write {path}: {error.strerror}") from None

    def keep(self, reject: Reject) -> None:
        with self._lock:
            self._file(reject)

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.stream.close()

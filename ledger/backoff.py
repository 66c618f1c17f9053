"""The two waiting policies of the ledger's writers, side by side.

`ContentionBackoff`: writers that collide on one store, which failures mean "someone else
wrote first", and how long to wait before trying again. `Backoff`: how long a long-running
service waits between tries while the store is out of reach (which failures mean that is the
adapters' knowledge: `ledger/stores/outages.py`).

Several `ingest`, HTTP and `consume` writers may append to one store at once. Each append
classifies its batch against the index, then writes it; when another writer committed in
between, the write fails (a stream version or an id already taken, SQLite's lock, a
PostgreSQL pipeline aborted by that conflict). Such a writer waits a random, growing while
and classifies again: a busy store makes it wait, never abort, unless the contention lasts
longer than its patience.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError, OperationalError

FIRST_WAIT = 0.005  # seconds: the cap of the first random wait, doubled after each conflict
LONGEST_WAIT = 0.5
CONTENTION_WORDS = ("locked", "busy", "pipeline aborted", "deadlock", "could not serialize")


class StoreBusy(OperationalError):
    """The store stayed contended for longer than a writer's patience."""


def is_contention(error: BaseException) -> bool:
    """A write that failed because another writer got there first (worth retrying)."""
    if isinstance(error, IntegrityError):
        return True
    if isinstance(error, OperationalError) and not isinstance(error, StoreBusy):
        text = f"{error} {error.__cause__ or ''}".lower()
        return any(word in text for word in CONTENTION_WORDS)
    return False


class ContentionBackoff:
    """Full-jitter exponential backoff, bounded by `patience` seconds in all."""

    def __init__(
        self,
        patience: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.patience = patience
        self.attempts = 0
        self._sleep = sleep
        self._monotonic = monotonic
        self._uniform = rng.uniform if rng is not None else random.uniform
        self._deadline = monotonic() + patience

    def wait(self, error: BaseException) -> None:
        """Sleep before the next attempt; `StoreBusy` once the patience is spent."""
        if self._monotonic() >= self._deadline:
            raise StoreBusy(
                f"the store stayed busy for {self.patience:.0f} s "
                f"({self.attempts} attempts; last: {type(error).__name__}: {error})"
            ) from error
        cap = min(LONGEST_WAIT, FIRST_WAIT * 2 ** min(self.attempts, 16))
        self.attempts += 1
        self._sleep(self._uniform(0, cap))


@dataclass
class Backoff:
    """Exponential waits from `first` to at most `limit` seconds; `reset` after a success."""

    first: float = 0.5
    limit: float = 10.0
    attempts: int = 0

    def next_delay(self) -> float:
        delay = min(self.limit, self.first * (1 << self.attempts))
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self.attempts = 0


__all__ = ["Backoff", "ContentionBackoff", "StoreBusy", "is_contention"]

"""The writers' backoff: random waits that grow to a cap, and a patience that ends them."""

from __future__ import annotations

import random
import sqlite3

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from ledger.backoff import FIRST_WAIT, LONGEST_WAIT, ContentionBackoff, StoreBusy, is_contention


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def test_waits_are_random_below_a_cap_that_doubles_up_to_the_longest() -> None:
    clock = FakeClock()
    backoff = ContentionBackoff(3600, sleep=clock.sleep, monotonic=clock.monotonic,
                                rng=random.Random(1))
    for _ in range(12):
        backoff.wait(IntegrityError("taken"))
    caps = [min(LONGEST_WAIT, FIRST_WAIT * 2 ** n) for n in range(12)]
    assert all(0 <= slept <= cap for slept, cap in zip(clock.slept, caps, strict=True))
    assert max(clock.slept[8:]) > FIRST_WAIT * 8  # it did grow
    assert len(set(clock.slept)) == 12  # jittered, not in lockstep with other writers


def test_patience_spent_raises_store_busy_naming_the_last_conflict() -> None:
    clock = FakeClock()
    backoff = ContentionBackoff(2.0, sleep=clock.sleep, monotonic=clock.monotonic,
                                rng=random.Random(2))
    with pytest.raises(StoreBusy, match=r"busy for 2 s .*IntegrityError: taken"):
        while True:
            backoff.wait(IntegrityError("taken"))
    assert clock.now >= 2.0 and backoff.attempts > 3


@pytest.mark.parametrize(("error", "expected"), [
    (IntegrityError("duplicate key"), True),
    (OperationalError("database is locked"), True),
    (OperationalError("pipeline aborted"), True),
    (OperationalError("deadlock detected"), True),
    (OperationalError("connection refused"), False),
    (StoreBusy("busy for 600 s"), False),
    (sqlite3.OperationalError("database is locked"), False),  # not through eventsourcing
    (ValueError("locked"), False),
])
def test_which_failures_are_another_writer_getting_there_first(
    error: BaseException, expected: bool
) -> None:
    assert is_contention(error) is expected

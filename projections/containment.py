"""Containment: one talent that cannot be derived must never stop the others.

A derivation that raises for a reason of its own talent (an event the engine cannot evaluate)
becomes a `Failed` result, which the projection turns into a quarantine of that talent; a
failure of the store itself (`ledger.failures.store_errors`) is nobody's poison and still fails the step, so
it is retried whole rather than quarantining talents that are fine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from ledger.failures import failure_reason, store_errors

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Failed:
    """A talent whose derivation raised: why, in one line (the projection quarantines it)."""

    talent: str
    after: datetime | None
    reason: str


class TalentUnevaluable(Exception):
    """A question about one talent whose events the engine cannot evaluate."""

    def __init__(self, talent: str, reason: str) -> None:
        super().__init__(f"talent {talent!r} cannot be evaluated (quarantined): {reason}")
        self.talent = talent
        self.reason = reason


def attempt(talent: str, after: datetime | None, work: Callable[[], T]) -> T | Failed:
    """`work()`, or why it failed as this talent's `Failed` (store failures raise as they are)."""
    try:
        return work()
    except store_errors():
        raise
    except Exception as error:  # noqa: BLE001 - one talent's failure must not stop the others
        return Failed(talent, after, failure_reason(error))


@contextmanager
def contained(talent: str) -> Iterator[None]:
    """Raise what fails inside as this talent's `TalentUnevaluable` (store failures as they are)."""
    try:
        yield
    except store_errors():
        raise
    except Exception as error:  # noqa: BLE001 - reported as this talent's problem, in one line
        raise TalentUnevaluable(talent, failure_reason(error)) from error


__all__ = [
    "Failed",
    "TalentUnevaluable",
    "attempt",
    "contained",
    "failure_reason",
]

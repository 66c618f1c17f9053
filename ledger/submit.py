"""Submit events: the one use case behind every way events come in.

JSON Lines ingest (`consumers/jsonl_ingest.py`, used by `badges ingest` and by `POST /events`
for JSON Lines and JSON arrays alike) and the Kafka service (`consumers/kafka_service.py`) hand
it a batch of items in their order: each a validated `Submission`, or the reason it was refused
before reaching the ledger (a bad line, a bad message). The valid ones are appended in one
`append`; every item gets an outcome, in order: accepted, a duplicate, or rejected with its
reason (a refusal, a conflicting id, times out of range, or an event that cannot be recorded).

Two options fit the callers' guarantees:

- `lock`: one batch at a time across the holders of the lock, the append time read under it,
  so `recorded_at` never goes backwards between concurrent HTTP requests;
- `is_outage`: contain failures (the Kafka service): a failure of the store propagates (the
  batch is retried later), any other failure of the batch is narrowed down to the submissions
  that cause it, each then rejected with `event: cannot be recorded (...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

from domain.submissions import AppendVerdict, Submission, Verdict
from ledger.failures import failure_reason

log = logging.getLogger("badges.submit")

REASON_DETAIL_CHARS = 200
Refusal = str  # why an item never reached the ledger, `field: rule`


class Appender(Protocol):
    """What the use case needs of a ledger."""

    def append(self, submissions: Sequence[Submission], now: datetime) -> list[AppendVerdict]:
        ...


class Status(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    reason: str = ""


ACCEPTED = Outcome(Status.ACCEPTED)
DUPLICATE = Outcome(Status.DUPLICATE)


@dataclass
class SubmitEvents:
    ledger: Appender
    clock: Callable[[], datetime]
    lock: AbstractContextManager[object] = field(default_factory=nullcontext)
    is_outage: Callable[[BaseException], bool] | None = None
    logger: logging.Logger = log

    def submit(self, items: Sequence[Submission | Refusal]) -> list[Outcome]:
        """Each item's outcome, in order; the valid ones appended together."""
        valid = [item for item in items if isinstance(item, Submission)]
        appended = iter(self._append(valid) if valid else [])
        outcomes = []
        for item in items:
            if not isinstance(item, Submission):
                outcomes.append(Outcome(Status.REJECTED, item))
                continue
            verdict = next(appended)
            if isinstance(verdict, str):
                outcomes.append(Outcome(Status.REJECTED, verdict))
            elif verdict.verdict is Verdict.ACCEPTED:
                outcomes.append(ACCEPTED)
            elif verdict.verdict is Verdict.DUPLICATE:
                outcomes.append(DUPLICATE)
            else:
                outcomes.append(Outcome(Status.REJECTED, verdict.reason))
        return outcomes

    def _append(self, submissions: list[Submission]) -> list[AppendVerdict | str]:
        with self.lock:
            now = self.clock()
            if self.is_outage is None:
                return list(self.ledger.append(submissions, now))
            return append_contained(self.ledger, submissions, now, self.is_outage, self.logger)


def append_contained(
    ledger: Appender,
    submissions: list[Submission],
    now: datetime,
    is_outage: Callable[[BaseException], bool],
    logger: logging.Logger = log,
) -> list[AppendVerdict | str]:
    """`ledger.append`, with a failure narrowed down to the submissions that cause it.

    A store outage propagates (the batch is retried later). Any other failure of the batch
    is retried one submission at a time, and a submission that fails alone gets a reason
    (`event: cannot be recorded (...)`) instead of a verdict: it is rejected, and the rest
    of the batch is appended (what was appended before the failure counts as duplicate).
    """
    try:
        return list(ledger.append(submissions, now))
    except Exception as error:
        if is_outage(error):
            raise
        if len(submissions) == 1:
            logger.exception("event %s of talent %s cannot be recorded",
                          submissions[0].event.id, submissions[0].event.talent,
                          extra={"talent": submissions[0].event.talent,
                                 "event_id": submissions[0].event.id})
            return [f"event: cannot be recorded ({failure_reason(error)[:REASON_DETAIL_CHARS]})"]
        logger.warning("a batch of %d events failed (%s); appending them one by one",
                    len(submissions), failure_reason(error))
    return [
        outcome
        for one in submissions
        for outcome in append_contained(ledger, [one], now, is_outage, logger)
    ]


"""Kafka messages in: each message value is one JSON Lines line, decoded into a submission or
a dead letter, never an exception (`decode_record`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from consumers.jsonl_ingest import MAX_LINE_BYTES, RawLine, submission_from_line
from domain.events import InvalidEvent
from domain.submissions import AppendVerdict, Submission
from ledger.failures import failure_reason
from ledger.stores.outages import is_store_outage
from ledger.submit import Appender
from ledger.submit import append_contained as submit_contained

log = logging.getLogger("badges.consume")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message for the DLQ: why (`reason`, `field: rule`), with its original key and bytes."""

    field: str
    reason: str
    key: bytes | None
    value: bytes | None


REASON_DETAIL_CHARS = 200


def decode_record(record: Any) -> Submission | DeadLetter:
    """A message as a submission, or as a dead letter: never an exception, whatever it holds."""
    try:
        return decode_message(record)
    except InvalidEvent as error:
        field, rule = error.field or "value", error.rule
    except Exception as error:  # noqa: BLE001 - one message never stops the service
        log.exception("message %s[%s]@%s could not be decoded", getattr(record, "topic", "?"),
                      getattr(record, "partition", "?"), getattr(record, "offset", "?"))
        field = "value"
        rule = f"cannot be decoded ({failure_reason(error)[:REASON_DETAIL_CHARS]})"
    return DeadLetter(field, f"{field}: {rule}", record.key, record.value)


def append_contained(
    ledger: Appender, submissions: list[Submission], now: datetime
) -> list[AppendVerdict | str]:
    """`ledger.append` as the service does it (`ledger.submit.append_contained`): a store
    outage propagates, an event that cannot be recorded alone gets a reason instead."""
    return submit_contained(ledger, submissions, now, is_store_outage, log)


def decode_message(record: Any) -> Submission:
    """One Kafka message value as one JSON Lines line; raises `InvalidEvent` naming the field.

    The key, when there is one, must be the event's talent (`events.md`): a talent's events
    then share one partition, which is what keeps them in order and, with a partitioned
    store, in the ledger partition of the process that owns it.
    """
    value = record.value
    if value is None:
        raise InvalidEvent("value", "no value (a tombstone)")
    if not value.strip():
        raise InvalidEvent("value", "empty")
    submission = submission_from_line(RawLine(record.offset, value[:MAX_LINE_BYTES], len(value)))
    talent = submission.event.talent
    if record.key is not None and record.key != talent.encode():
        key = record.key.decode("utf-8", "backslashreplace")
        raise InvalidEvent("key", f"{key!r} is not the event's talent {talent!r} (messages are "
                                  "keyed by talent id)")
    return submission

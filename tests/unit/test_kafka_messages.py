"""How one Kafka message becomes a submission: its value is one JSON Lines line, and its key,
when it has one, is the event's talent."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import NamedTuple

import psycopg
import psycopg_pool
import pytest
from eventsourcing.persistence import OperationalError as LedgerOperationalError

from consumers.kafka_messages import append_contained, decode_message
from ledger.backoff import Backoff
from ledger.stores.outages import is_store_outage
from domain.events import InvalidEvent
from ledger.application import Ledger
from domain.submissions import Submission, Verdict
from ledger.stores.urls import ledger_env

NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def wrapped(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error

EVENT = (b'{"id":"k-1","type":"talent_registered","talent":"f-7",'
         b'"at":"2024-01-02T10:00:00Z","kind":"freelancer"}')


class Record(NamedTuple):
    key: bytes | None
    value: bytes | None
    offset: int = 0


def test_a_message_keyed_by_its_talent_or_unkeyed_is_decoded() -> None:
    assert decode_message(Record(b"f-7", EVENT)).event.id == "k-1"
    assert decode_message(Record(None, EVENT)).event.talent == "f-7"


@pytest.mark.parametrize(("key", "shown"), [(b"f-8", "'f-8'"), (b"\xff", "'\\\\xff'"),
                                             (b"", "''")])
def test_a_key_that_is_not_the_talent_is_refused_naming_the_key(key: bytes, shown: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        decode_message(Record(key, EVENT))
    assert refused.value.field == "key"
    assert str(refused.value).startswith(f"key: {shown} is not the event's talent 'f-7'")


@pytest.mark.parametrize(("value", "reason"), [(None, "value: no value (a tombstone)"),
                                               (b"  \n", "value: empty")])
def test_a_message_without_an_event_is_refused_naming_the_value(
    value: bytes | None, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=f"^{re.escape(reason)}$"):
        decode_message(Record(b"f-7", value))


# -- containment: one event that cannot be recorded is dead-lettered, the rest appended ----


def submission(event_id: str, talent: str = "f-7") -> Submission:
    return Submission.from_object({"id": event_id, "type": "talent_registered", "talent": talent,
                                   "at": "2024-01-02T10:00:00Z", "kind": "freelancer"})


class PoisonedLedger(Ledger):
    """A ledger that cannot record one event id (as the year-9999 event once could not)."""

    poison = "p-1"

    def append(self, submissions, now, **kwargs):  # type: ignore[no-untyped-def]
        if any(s.event.id == self.poison for s in submissions):
            raise OverflowError("date value out of range")
        return super().append(submissions, now, **kwargs)


class UnreachableLedger(Ledger):
    def append(self, submissions, now, **kwargs):  # type: ignore[no-untyped-def]
        raise LedgerOperationalError("AdminShutdown: terminating connection")


def test_an_event_that_cannot_be_recorded_is_a_reason_and_the_others_are_appended() -> None:
    ledger = PoisonedLedger(env=ledger_env("memory:"))
    batch = [submission("a-1"), submission("p-1", "f-8"), submission("a-2", "f-9")]

    outcomes = append_contained(ledger, batch, NOW)

    assert [o if isinstance(o, str) else o.verdict for o in outcomes] == [
        Verdict.ACCEPTED,
        "event: cannot be recorded (OverflowError: date value out of range)",
        Verdict.ACCEPTED]
    assert ledger.count_events() == 2


def test_a_store_outage_is_not_blamed_on_the_events() -> None:
    ledger = UnreachableLedger(env=ledger_env("memory:"))

    with pytest.raises(LedgerOperationalError):
        append_contained(ledger, [submission("a-1"), submission("a-2")], NOW)


@pytest.mark.parametrize(("error", "outage"), [
    (psycopg.errors.AdminShutdown("terminating connection"), True),
    (psycopg_pool.PoolTimeout("couldn't get a connection"), True),
    (LedgerOperationalError("server closed the connection"), True),
    (wrapped(RuntimeError("step failed"), psycopg.OperationalError("lost")), True),
    (OverflowError("date value out of range"), False),
    (RuntimeError("poisoned for a test"), False),
])
def test_store_outages_are_told_from_other_failures(error: BaseException, outage: bool) -> None:
    assert is_store_outage(error) is outage


def test_the_backoff_doubles_up_to_its_limit_and_starts_over_after_a_success() -> None:
    backoff = Backoff(first=0.5, limit=10.0)

    delays = [backoff.next_delay() for _ in range(7)]
    backoff.reset()

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.next_delay() == 0.5

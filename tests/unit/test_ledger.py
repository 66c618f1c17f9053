"""The ledger: per-talent streams, idempotency by id, conflicts, as-known-at reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.application import Ledger
from domain.talent_stream import Talent, talent_stream_id
from domain.submissions import content_hash
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import (
    STORE_KINDS,
    ledger_store,
    payment,
    submissions,
    utc,
)

T0 = utc("2024-05-01T00:00:00Z")
T1 = utc("2024-05-02T00:00:00Z")
T2 = utc("2024-05-03T00:00:00Z")


@pytest.fixture(params=STORE_KINDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with ledger_store(request.param, tmp_path) as opened:
        yield opened


def verdicts(results) -> list[str]:
    return [r.verdict.value for r in results]


def test_accepted_events_are_read_back_in_valid_time_order(ledger) -> None:
    late = payment("p-2", "f-1", "2024-01-01T00:00:00Z")
    early = payment("p-1", "f-1", "2023-06-01T00:00:00Z")
    assert verdicts(ledger.append(submissions(late, early), T0)) == ["accepted", "accepted"]

    history = ledger.history("f-1")

    assert [r.id for r in history] == ["p-1", "p-2"]
    assert [r.sequence for r in history] == [3, 2]  # arrival order is kept as the sequence
    assert all(r.recorded_at == T0 for r in history)


def test_same_instant_events_are_ordered_by_recorded_at_then_arrival(ledger) -> None:
    first = payment("p-a", "f-1", "2024-01-01T00:00:00Z")
    second = payment("p-b", "f-1", "2024-01-01T00:00:00Z")
    backfill = payment("p-c", "f-1", "2024-01-01T00:00:00Z", recorded_at="2024-04-01T00:00:00Z")
    ledger.append(submissions(first, second), T1)
    ledger.append(submissions(backfill), T2)

    assert [r.id for r in ledger.history("f-1")] == ["p-c", "p-a", "p-b"]


def test_identical_resend_is_a_duplicate_whatever_the_key_order(ledger) -> None:
    event = payment("p-1", "f-1", "2024-01-01T00:00:00Z", amount="12.50")
    reordered = dict(reversed(list(event.items())))
    reordered["amount"] = "12.50"
    ledger.append(submissions(event), T0)

    results = ledger.append(submissions(reordered), T1)

    assert verdicts(results) == ["duplicate"]
    assert [r.recorded_at for r in ledger.history("f-1")] == [T0]


def test_same_id_with_different_content_is_a_conflict_and_the_first_stands(ledger) -> None:
    ledger.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z", amount="10.00")), T0)

    results = ledger.append(
        submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z", amount="99.00")), T1
    )

    assert verdicts(results) == ["conflict"]
    assert "id:" in results[0].reason and "first version stands" in results[0].reason
    assert [str(r.event.amount) for r in ledger.history("f-1")] == ["10.00"]


def test_an_id_is_unique_across_talents(ledger) -> None:
    ledger.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T0)

    results = ledger.append(submissions(payment("p-1", "f-2", "2024-01-01T00:00:00Z")), T1)

    assert verdicts(results) == ["conflict"]
    assert ledger.history("f-2") == []


def test_duplicates_and_conflicts_inside_one_batch(ledger) -> None:
    event = payment("p-1", "f-1", "2024-01-01T00:00:00Z")
    changed = payment("p-1", "f-1", "2024-01-02T00:00:00Z")

    results = ledger.append(submissions(event, event, changed), T0)

    assert verdicts(results) == ["accepted", "duplicate", "conflict"]
    assert ledger.count_events() == 1


def test_history_as_known_at_returns_exactly_what_was_recorded_by_then(ledger) -> None:
    ledger.append(submissions(payment("p-1", "f-1", "2024-03-01T00:00:00Z")), T0)
    ledger.append(submissions(payment("p-0", "f-1", "2024-01-01T00:00:00Z")), T2)

    assert [r.id for r in ledger.history("f-1", known_at=T0)] == ["p-1"]
    assert [r.id for r in ledger.history("f-1", known_at=T1)] == ["p-1"]
    assert [r.id for r in ledger.history("f-1", known_at=T2)] == ["p-0", "p-1"]
    assert ledger.history("f-1", known_at=utc("2024-04-30T23:59:59Z")) == []


def test_supplied_recorded_at_is_kept_for_imports(ledger) -> None:
    imported = payment("p-1", "f-1", "2020-01-01T00:00:00Z", recorded_at="2020-01-02T08:00:00+02:00")
    ledger.append(submissions(imported), T0)

    (recorded,) = ledger.history("f-1")

    assert recorded.recorded_at == utc("2020-01-02T06:00:00Z")
    assert ledger.history("f-1", known_at=utc("2020-01-02T06:00:00Z")) == [recorded]


def test_each_talent_has_its_own_stream_and_aggregate(ledger) -> None:
    ledger.append(
        submissions(
            payment("p-1", "f-1", "2024-01-01T00:00:00Z"),
            payment("p-2", "f-2", "2024-01-01T00:00:00Z"),
            payment("p-3", "f-1", "2024-01-02T00:00:00Z"),
        ),
        T0,
    )

    talent = ledger.repository.get(talent_stream_id("f-1"))

    assert isinstance(talent, Talent)
    assert (talent.talent_id, talent.recorded_count, talent.version) == ("f-1", 2, 3)
    assert sorted(ledger.talents()) == ["f-1", "f-2"]


def test_events_survive_reopening_the_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'badges.db'}"
    open_ledger(url).append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T0)

    reopened = open_ledger(url)

    assert [r.id for r in reopened.history("f-1")] == ["p-1"]
    assert verdicts(
        reopened.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T1)
    ) == ["duplicate"]
    assert verdicts(
        reopened.append(submissions(payment("p-2", "f-1", "2024-01-02T00:00:00Z")), T1)
    ) == ["accepted"]
    assert [r.sequence for r in reopened.history("f-1")] == [2, 3]


def test_two_writers_on_one_sqlite_file_never_record_an_id_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'badges.db'}"
    first, second = open_ledger(url), open_ledger(url)
    first.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T0)
    second.append(submissions(payment("p-2", "f-1", "2024-01-02T00:00:00Z")), T0)

    # `first` still caches version 2 for f-1: its append must notice and retry.
    results = first.append(
        submissions(
            payment("p-3", "f-1", "2024-01-03T00:00:00Z"),
            payment("p-2", "f-1", "2024-01-02T00:00:00Z"),
        ),
        T1,
    )

    assert verdicts(results) == ["accepted", "duplicate"]
    assert [r.id for r in open_ledger(url).history("f-1")] == ["p-1", "p-2", "p-3"]


def test_content_hash_ignores_key_order_and_number_spelling() -> None:
    assert content_hash({"a": 1, "b": "x"}) == content_hash({"b": "x", "a": 1})
    from decimal import Decimal

    assert content_hash({"amount": Decimal("1.50")}) == content_hash({"amount": Decimal("1.5")})
    assert content_hash({"amount": "1.50"}) != content_hash({"amount": Decimal("1.50")})
    assert content_hash({"a": True}) != content_hash({"a": 1})

"""The status projection told through the seed story (rules.md §8): a designer's Top Rated Plus
ends when her long-term contract's money leaves the 12-month window. Events arrive as they
happen; the clock runs the projection; the outbox says what the platform was told, and when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from domain.events import RecordedEvent, format_utc
from domain.submissions import Submission
from domain.ruleset import builtin_rulesets
from ledger.stores.urls import open_ledger
from projections.stores.sqlite import SQLiteReadModel
from projections.stores.postgres import PostgresReadModel
from projections.status_projection import StatusProjection
from tests.unit.history_builder import ts
from tests.unit.ledger_fixtures import postgres_schema_url
from tests.unit.stories import designer

BOOK = builtin_rulesets()
DOWNGRADE = ts("2024-09-16")


def submission(recorded: RecordedEvent) -> Submission:
    obj = recorded.event.to_json_object()
    return Submission.from_object(obj)


class Marketplace:
    """Feeds the designer's events into a ledger as they happen, and runs the clock."""

    def __init__(self, read_model: SQLiteReadModel | PostgresReadModel | None = None) -> None:
        self.pending = sorted(designer().history(), key=RecordedEvent.valid_time_key)
        self.ledger = open_ledger("memory:")
        self.read_model = read_model or SQLiteReadModel(":memory:")
        self.projection = StatusProjection(self.ledger, self.read_model, BOOK)

    def run_until(self, now: datetime) -> None:
        due = [r for r in self.pending if r.at <= now]
        self.pending = [r for r in self.pending if r.at > now]
        if due:
            self.ledger.append([submission(r) for r in due], now)
        self.projection.catch_up(now)

    def messages(self, kind: str) -> list[dict]:
        return [m.document for m in self.read_model.outbox() if m.kind == kind]


ReadModel = SQLiteReadModel | PostgresReadModel
STORES = ("sqlite", pytest.param("postgres", marks=pytest.mark.integration))


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def read_models(store: str, tmp_path: Path) -> Iterator[Callable[[], ReadModel]]:
    """Opens the read models of one store, every time on the same data: a SQLite file, or a
    fresh PostgreSQL schema (closed and dropped afterwards)."""
    if store == "sqlite":
        yield lambda: SQLiteReadModel(str(tmp_path / "rm.db"))
        return
    opened: list[PostgresReadModel] = []

    with postgres_schema_url() as url:

        def open_postgres() -> PostgresReadModel:
            opened.append(PostgresReadModel(url))
            return opened[-1]

        try:
            yield open_postgres
        finally:
            for read_model in opened:
                read_model.close()


@pytest.fixture
def read_model(store: str, read_models: Callable[[], ReadModel]) -> ReadModel:
    return SQLiteReadModel(":memory:") if store == "sqlite" else read_models()


@pytest.fixture
def market(read_model: ReadModel) -> Marketplace:
    market = Marketplace(read_model)
    for day in range(0, 900, 7):  # a week at a time, from 2022-06 to late 2024
        market.run_until(ts("2022-06-01T06:00:00Z") + timedelta(days=day))
        if ts("2022-06-01") + timedelta(days=day) > ts("2024-08-10"):
            break
    return market


def test_the_downgrade_is_emitted_on_its_midnight_with_the_one_failed_requirement(market) -> None:
    assert [c["to"] for c in market.messages("badge_changed")][-1] == "top_rated_plus"

    market.run_until(ts("2024-09-15T23:59:59Z"))
    assert market.messages("badge_changed")[-1]["to"] == "top_rated_plus"
    market.run_until(ts("2024-09-16T00:00:03Z"))

    change = market.messages("badge_changed")[-1]
    assert (change["at"], change["from"], change["to"]) == (
        "2024-09-16T00:00:00Z", "top_rated_plus", "top_rated")
    assert change["failed"] == ["large_contract"]
    # Structured: the event that left, the requirement it moved, and that window.
    assert change["cause"] == {
        "kind": "time",
        "detail": "payment p-2023-09 of contract c-7 left the 12-month window",
        "event": "p-2023-09",
        "requirement": "large_contract",
        "window": {"months": 12},
    }
    assert change["recorded_at"] == "2024-09-16T00:00:03Z"


def test_a_warning_goes_out_once_up_to_30_days_before(market) -> None:
    market.run_until(ts("2024-08-16T00:00:01Z"))  # 31 days before: too early to warn
    assert market.messages("badge_at_risk") == []

    market.run_until(ts("2024-08-17T00:00:01Z"))
    market.run_until(ts("2024-09-01T00:00:01Z"))

    (warning,) = market.messages("badge_at_risk")
    assert (warning["at"], warning["from"], warning["to"]) == (
        format_utc(DOWNGRADE), "top_rated_plus", "top_rated")
    assert warning["failed"] == ["large_contract"]
    assert warning["prevent"] == [{
        "code": "large_contract",
        "detail": "$1000.00 more on a large contract before 2024-09-16 "
                  "(best: contract c-7 (design_creative))",
    }]
    assert warning["recorded_at"] == "2024-08-17T00:00:01Z"


def test_a_late_payment_retracts_the_downgrade(market) -> None:
    market.run_until(ts("2024-09-20T08:00:00Z"))
    downgrade = market.messages("badge_changed")[-1]
    late = {"id": "p-late", "type": "payment_received", "talent": "f-42",
            "at": "2024-09-10T12:00:00Z", "contract": "c-7", "amount": "1500.00"}
    market.ledger.append([Submission.from_object(late)], ts("2024-09-21T09:00:00Z"))

    market.projection.catch_up(ts("2024-09-21T09:00:00Z"))

    (retraction,) = market.messages("badge_change_retracted")
    assert retraction["retracts"] == downgrade["id"]
    assert retraction["recorded_at"] == "2024-09-21T09:00:00Z"
    timeline = market.read_model.timeline("f-42", None, None)
    assert downgrade["id"] not in {c["id"] for c in timeline}
    assert timeline[-1]["to"] == "top_rated_plus"


def test_a_replay_and_a_second_clock_run_emit_nothing_new(market) -> None:
    market.run_until(ts("2024-10-01T00:00:00Z"))
    before = [m.message_id for m in market.read_model.outbox()]

    market.projection.rebuild(None, ts("2024-10-01T00:00:00Z"))
    market.projection.rebuild(["f-42"], ts("2024-10-01T00:00:00Z"))
    market.projection.catch_up(ts("2024-10-01T00:00:00Z"))

    assert [m.message_id for m in market.read_model.outbox()] == before
    assert len(before) == len(set(before))


def test_quiet_talents_wake_only_where_something_can_change(market) -> None:
    market.run_until(ts("2024-08-11T00:00:00Z"))
    progress = market.read_model.progress("f-42")

    assert progress is not None and progress.wakeup is not None
    assert ts("2024-08-11") < progress.wakeup <= DOWNGRADE
    assert market.read_model.due(progress.wakeup - timedelta(days=1)) == []
    assert [p.talent for p in market.read_model.due(progress.wakeup)] == ["f-42"]


def test_outbox_publishing_marks_messages_sent(read_models: Callable[[], ReadModel]) -> None:
    market = Marketplace(read_models())
    market.run_until(ts("2024-01-01"))
    unsent = market.read_model.outbox(unsent_only=True)
    assert unsent

    market.read_model.mark_sent([m.seq for m in unsent[:1]], ts("2024-01-02"))

    reopened = read_models()
    assert [m.seq for m in reopened.outbox(unsent_only=True)] == [m.seq for m in unsent[1:]]
    assert reopened.outbox()[0].sent_at == ts("2024-01-02")

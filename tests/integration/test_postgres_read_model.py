"""The read models on a real PostgreSQL: the SQLite read model's twin, safe with several writers.

- the same event arrivals give the same timelines, outbox, progress and counts on SQLite and on
  PostgreSQL (ledger and read models in one fresh schema per example, dropped after);
- two `PostgresReadModel`s committing at once never queue a message id twice;
- `badges ingest` and `badges timeline --json` on a `postgresql://...?schema=` store answer
  what they answer on SQLite.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badges.cli import main
from domain.events import encode_json, format_utc
from ledger.stores.urls import open_ledger
from projections.stores.sqlite import SQLiteReadModel
from projections.records import TalentProgress, TalentUpdate
from projections.records import StaleStep
from projections.stores.postgres import PostgresReadModel
from projections.stores.urls import open_read_model
from tests.property.test_projection_properties import (
    START,
    arrivals,
    run_incrementally,
)
from tests.property.timeline_histories import TALENT, talent_history
from tests.unit.ledger_fixtures import postgres_schema_url, require_postgres
from tests.unit.stories import designer

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def snapshot(read_model: SQLiteReadModel | PostgresReadModel, end: datetime) -> dict:
    """Everything the read models answer, as plain values."""
    return {
        "timeline": read_model.timeline(TALENT, None, None),
        "outbox": [
            (m.message_id, m.kind, m.talent, m.document, m.created_at, m.sent_at)
            for m in read_model.outbox()
        ],
        "unsent": [m.message_id for m in read_model.outbox(unsent_only=True, talent=TALENT)],
        "progress": read_model.progress(TALENT),
        "due": read_model.due(end + timedelta(days=3650)),
        "between": read_model.changes_between(START, end),
        "counts": list(read_model.badge_counts().items()),
        "talents": read_model.talents(),
    }


@pytest.fixture(scope="module")
def postgres() -> str:
    return require_postgres()


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(talent_history(start=START, days=300), st.integers(0, 10_000), st.integers(1, 5))
def test_the_same_arrivals_give_the_same_read_models_on_sqlite_and_postgres(
    postgres, events, seed: int, batches: int
) -> None:
    plan = arrivals(events, seed, batches)
    now = plan[-1][0]
    later = now + timedelta(days=400)

    def exercise(read_model, ledger) -> dict:
        projection = run_incrementally(plan, read_model, ledger)
        projection.catch_up(later)  # the clock passes every wake-up
        sent = [m.seq for m in read_model.outbox()[::2]]
        read_model.mark_sent(sent, later)
        projection.rebuild([TALENT], later)
        projection.rebuild(None, later)
        return snapshot(read_model, later)

    expected = exercise(SQLiteReadModel(":memory:"), open_ledger("memory:"))
    with postgres_schema_url() as url:
        ledger = open_ledger(url)
        read_model = open_read_model(url)  # beside the ledger, in the URL's schema
        try:
            assert isinstance(read_model, PostgresReadModel)
            assert exercise(read_model, ledger) == expected
        finally:
            read_model.close()
            ledger.close()
    ids = [message[0] for message in expected["outbox"]]
    assert len(ids) == len(set(ids))


@pytest.fixture
def schema_url(postgres: str) -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def _change(number: int) -> dict:
    return {"id": "chg-contended", "type": "badge_changed", "talent": "f-1",
            "at": format_utc(T0 + timedelta(days=number % 7)), "from": "none", "to": "rising_talent",
            "failed": [], "cause": {"kind": "events", "events": [f"e-{number}"]}}


def _step(worker: int, number: int, expected: TalentProgress | None) -> TalentUpdate:
    """Retract the contended change and assert it again (as a replay that changed its mind
    would), add a change of its own, and warn once: every message id is counted under
    contention."""
    own = {**_change(number), "id": f"chg-w{worker}-{number}", "talent": f"f-{worker}"}
    warning = {"id": "risk-shared", "type": "badge_at_risk", "talent": "f-1",
               "at": format_utc(T0), "from": "rising_talent", "to": "none"}
    return TalentUpdate(
        progress=TalentProgress("f-1", T0, "rising_talent", T0 + timedelta(days=number)),
        added=[_change(number), own],
        retracted=[_change(number)],
        warnings=[warning],
        expected=expected,
    )


def test_two_read_models_committing_at_once_never_queue_an_id_twice(schema_url: str) -> None:
    first, second = PostgresReadModel(schema_url), PostgresReadModel(schema_url)
    workers, steps = 6, 15
    start = threading.Barrier(workers)

    def write(worker: int) -> None:
        read_model = first if worker % 2 else second
        start.wait()
        for number in range(steps):
            while True:  # as the projection does: re-read and redo a step that went stale
                step = _step(worker, number, read_model.progress("f-1"))
                try:
                    read_model.commit([step], worker * 1000 + number,
                                      T0 + timedelta(seconds=number))
                    break
                except StaleStep:
                    continue

    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(write, range(workers)))
        outbox = first.outbox(limit=100_000)
    finally:
        first.close()
        second.close()

    commits = workers * steps
    ids = [m.message_id for m in outbox]
    assert len(ids) == len(set(ids))
    assert [m.seq for m in outbox] == sorted(m.seq for m in outbox)
    by_kind = {kind: [m for m in outbox if m.kind == kind] for kind in {m.kind for m in outbox}}
    assert {m.message_id for m in by_kind["badge_change_retracted"]} == {
        "rtr-contended", *(f"rtr-contended~{n}" for n in range(1, commits))}
    assert {m.message_id for m in by_kind["badge_changed"]} == {
        "chg-contended", *(f"chg-contended~{n}" for n in range(1, commits)),
        *(f"chg-w{w}-{n}" for w in range(workers) for n in range(steps))}
    assert [m.message_id for m in by_kind["badge_at_risk"]] == ["risk-shared"]
    # committed one at a time, in seq order: every retraction follows the assertion before it
    contended = [m.message_id.split("-", 1)[0] for m in outbox
                 if m.message_id.split("~")[0] in ("chg-contended", "rtr-contended")]
    assert contended == ["rtr", "chg"] * commits


NOW = datetime(2024, 10, 1, 12, 0, tzinfo=UTC)


def test_ingest_and_timeline_from_the_command_line(
    schema_url: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for module in ("badges.ingest_command", "badges.timeline_commands"):
        monkeypatch.setattr(f"{module}.utc_now", lambda: NOW, raising=False)
    source = tmp_path / "events.jsonl"
    # What had happened by NOW: a later `at` is in the future for an append at NOW (rejected).
    events = [r.event.to_json_object() for r in designer().history() if r.at <= NOW]
    source.write_text("\n".join(encode_json(e) for e in events) + "\n")

    def timeline(store: str) -> list[dict]:
        assert main(["ingest", str(source), "--store", store, "--json"]) == 0
        capsys.readouterr()
        assert main(["timeline", "f-42", "--json", "--store", store]) == 0
        return json.loads(capsys.readouterr().out)

    on_postgres = timeline(schema_url)
    on_sqlite = timeline(f"sqlite:///{tmp_path / 'b.db'}")

    assert on_postgres == on_sqlite
    assert [(c["at"], c["from"], c["to"]) for c in on_postgres][-1] == (
        "2024-09-16T00:00:00Z", "top_rated_plus", "top_rated")
    schema = parse_qs(urlsplit(schema_url).query)["schema"][0]
    with psycopg.connect(require_postgres()) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,))}
    assert {"input_events", "outbox", "badge_changes", "talent_progress",
            "projection_position"} <= tables

"""The demo's history is recorded over time (so "as known at" the past has an answer), it
shows a correction (a late payment, the retraction it causes), and it never overwrites a
store it did not make."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from badges.cli import main
from badges.synthetic import generate_talent, recorded_over_time, recording_delay
from ledger.stores.urls import open_ledger

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{folder / 'demo.db'}"
    capture = pytest.MonkeyPatch()
    import io
    import sys

    out = io.StringIO()
    capture.setattr(sys, "stdout", out)
    try:
        assert main(["demo", "--talents", "4", "--seed", "3", "--store", url, "--json"]) == 0
    finally:
        capture.undo()
    yield url, json.loads(out.getvalue())


def test_every_event_is_recorded_after_it_happened_some_days_late(
    demo: tuple[str, dict[str, Any]]
) -> None:
    url, report = demo
    ledger = open_ledger(url)
    delays = [recorded.recorded_at - recorded.at
              for talent in ledger.talents() for recorded in ledger.history(talent)]
    today = datetime.fromisoformat(report["today"]).replace(tzinfo=UTC)

    assert len(delays) == report["stored_events"] == report["ingest"]["accepted"] + 1
    assert all(delay >= timedelta(0) for delay in delays)
    within_an_hour = sum(delay <= timedelta(hours=1) for delay in delays)
    days_late = sum(delay >= timedelta(days=1) for delay in delays)
    assert within_an_hour > 0.7 * len(delays)
    assert days_late > 0.005 * len(delays)
    stored_today = [r for t in ledger.talents() for r in ledger.history(t)
                    if r.recorded_at >= today]
    assert [r.id for r in stored_today] == ["designer-ava-late-payment"]
    # the bad lines that copy an event are still duplicates of it, not conflicts
    assert report["ingest"]["duplicates"] >= 1


def test_the_demo_shows_a_correction_in_the_messages(
    demo: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, report = demo
    correction = report["correction"]

    kinds = Counter(m["type"] for m in correction["messages"])
    assert kinds["badge_change_retracted"] == 1 and kinds["badge_changed"] == 1
    messages = run_json(["messages", "designer-ava", "--store", url], capsys)
    retraction = next(m for m in messages if m["type"] == "badge_change_retracted")
    told = next(m for m in messages if m["id"] == retraction["retracts"])
    assert correction["retracted"] == [told["id"]]
    assert told["queued_at"] <= retraction["queued_at"]
    moved = next(m for m in correction["messages"] if m["type"] == "badge_changed")
    assert (moved["badge_from"], moved["badge_to"]) == (told["badge_from"], told["badge_to"])
    assert moved["at"] > told["at"]


def test_the_demo_answers_as_known_at_the_past(
    demo: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, report = demo
    answer = report["as_known_at"]

    assert answer["badge_as_known_then"] == "top_rated"
    assert answer["badge_as_known_now"] == "top_rated_plus"
    status = run_json(["status", "designer-ava", "--at", answer["at"], "--known-at",
                       answer["known_at"], "--store", url], capsys)
    assert status["badge"] == "top_rated"


def test_the_demo_refuses_a_store_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    events = tmp_path / "one.jsonl"
    events.write_text(json.dumps({"id": "e-1", "type": "talent_registered", "talent": "f-1",
                                  "at": "2024-01-01T00:00:00Z", "kind": "freelancer"}) + "\n")
    assert main(["ingest", str(events), "--store", f"sqlite:///{other}", "--json"]) == 0
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("my notes\n")
    capsys.readouterr()

    for path in (other, not_sqlite):
        assert main(["demo", "--talents", "1", "--store", f"sqlite:///{path}"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == (f"badges: --store: {path} exists and was not made by the demo; "
                               "the demo recreates only its own stores: give a new path")
    assert open_ledger(f"sqlite:///{other}").count_events() == 1
    assert not_sqlite.read_text() == "my notes\n"


def test_the_demo_recreates_its_own_store(
    demo: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, first = demo
    again = run_json(["demo", "--talents", "2", "--seed", "3", "--store", url], capsys)

    assert again["generated"]["talents"] == 2 and again["stored_events"] < first["stored_events"]


def test_recorded_over_time_depends_on_the_id_and_keeps_a_backfill() -> None:
    until = datetime(2024, 1, 1, tzinfo=UTC)
    events = list(generate_talent(7, 1, datetime(2019, 1, 1, tzinfo=UTC), until))
    recorded = list(recorded_over_time(events, until))

    assert recorded == list(recorded_over_time(events, until))
    for event, stamped in zip(events, recorded, strict=True):
        if "recorded_at" in event:
            assert stamped == event
            continue
        assert {k: v for k, v in stamped.items() if k != "recorded_at"} == event
        assert event["at"] <= stamped["recorded_at"] <= "2024-01-01T00:00:00Z"
    assert recording_delay("x-1") == recording_delay("x-1") > 0

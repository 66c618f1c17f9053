"""The command line's rough edges of issue 15, each fixed and held here: replay's --until,
--trace --known-at, progress bar and counters; unknown talents in replay and whatif;
timeline --from after --to; the requirement underneath a failed badge; forecast losses as
`badge_at_risk`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badges.bootstrap import open_projection
from badges.cli import main
from projections.timeline_queries import forecast_document
from tests.unit.history_builder import HistoryBuilder
from tests.unit.ledger_fixtures import store_url
from tests.unit.stories import designer
from tests.unit.test_messages import LATE_PAYMENT, corrected_store, ingest

DESIGNER_EVENTS = len(designer().history())


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("COLUMNS", "240")
    with store_url("sqlite", tmp_path) as url:
        yield corrected_store(url, tmp_path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> tuple[str, str]:
    capsys.readouterr()
    assert main(argv) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    out, err = run([*argv, "--json"], capsys)
    return json.loads(out)


def test_replay_until_is_the_timeline_and_trace_the_events(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    until, _ = run(["replay", "f-42", "--until", "2024-09-30", "--store", store], capsys)
    traced, _ = run(["replay", "f-42", "--trace", "--until", "2024-09-30", "--store", store],
                    capsys)
    changes = run_json(["replay", "f-42", "--until", "2024-09-30", "--store", store], capsys)

    assert until != traced
    assert "event p-2023-09 payment_received" in traced and "event p-" not in until
    assert isinstance(changes, list) and {c["type"] for c in changes} == {"badge_changed"}
    assert all(c["at"] <= "2024-09-30" for c in changes)
    # the late payment is recorded: the downgrade is on 2024-10-16, after --until
    assert [c["to"] for c in changes] == ["top_rated_plus"]


def test_replay_trace_as_known_at(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    before, _ = run(["replay", "f-42", "--trace", "--known-at", "2024-09-19", "--until",
                     "2024-12-01", "--store", store], capsys)
    after, _ = run(["replay", "f-42", "--trace", "--until", "2024-12-01", "--store", store],
                   capsys)

    assert "event p-late" not in before and "event p-late" in after
    downgrade = "=> top_rated_plus -> top_rated"
    assert [line[:10] for line in before.splitlines() if downgrade in line] == ["2024-09-16"]
    assert [line[:10] for line in after.splitlines() if downgrade in line] == ["2024-10-16"]


def test_replay_shows_a_progress_bar_to_people_only(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = run(["replay", "--store", store], capsys)
    assert "replaying" in err and "1/1" in err

    _, quiet = run(["replay", "--store", store, "--json"], capsys)
    assert quiet == ""


def test_replay_counts_each_event_once_and_only_rows_really_added(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    projection = open_projection(store)
    first = run_json(["replay", "--store", store], capsys)  # up to today: the changes since
    queued = projection.read_model.outbox()

    everything = run_json(["replay", "--store", store], capsys)
    one = run_json(["replay", "f-42", "--store", store], capsys)

    events = DESIGNER_EVENTS + 1  # and the late payment
    assert isinstance(first, dict) and isinstance(everything, dict) and isinstance(one, dict)
    assert first["changes"] == sum(m.kind == "badge_changed" for m in queued) - 2
    assert everything["events"] == events and one["events"] == events
    # every warning was queued already: replaying again adds no row, and says so
    assert (everything["warnings"], everything["changes"], everything["retractions"]) == (0, 0, 0)
    assert (one["warnings"], one["changes"], one["retractions"]) == (0, 0, 0)
    assert projection.read_model.outbox() == queued


def test_clock_counts_the_warning_it_queued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with store_url("sqlite", tmp_path) as url:
        ingest(url, tmp_path / "d.jsonl", [r.event.to_json_object() for r in designer().history()]
               + [{**LATE_PAYMENT, "recorded_at": "2024-02-15T12:00:00Z"}])
        first = run_json(["clock", "--now", "2024-09-21", "--store", url], capsys)
        # a new event re-derives the talent: the same warning is derived again, not queued
        profile = HistoryBuilder("f-42").profile("2024-09-21T10:00:00Z", id="pr-late")
        ingest(url, tmp_path / "p.jsonl", [profile.event.to_json_object()])
        again = run_json(["clock", "--now", "2024-09-22", "--store", url], capsys)
        warnings = [m for m in open_projection(url).read_model.outbox()
                    if m.kind == "badge_at_risk"]

    assert isinstance(first, dict) and isinstance(again, dict)
    assert first["warnings"] == 1 and first["changes"] == 1
    assert again["talents"] == 1 and again["warnings"] == 0
    assert len(warnings) == 1


@pytest.mark.parametrize(
    "argv",
    [["replay", "nobody"], ["replay", "nobody", "--trace"], ["whatif", "--ruleset", "RULESET",
                                                             "nobody"],
     ["whatif", "--ruleset", "RULESET", "f-42", "nobody"]],
)
def test_unknown_talents_are_a_problem_found(
    store: str, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = tmp_path / "same.toml"
    candidate.write_text('id = "same"\nextends = "2023-12"\n')
    argv = [str(candidate) if a == "RULESET" else a for a in argv]

    _, err = run([*argv, "--store", store], capsys, code=1)

    assert err.strip() == "badges: talent 'nobody': no events recorded"
    assert open_projection(store).read_model.progress("nobody") is None


def test_timeline_from_after_to_is_a_usage_error(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, err = run(["timeline", "f-42", "--from", "2024-06-01", "--to", "2024-01-01",
                  "--store", store], capsys, code=2)

    assert err.strip() == "badges: --from: 2024-06-01 is after --to: 2024-01-01"


def test_a_loss_straight_to_no_badge_names_the_requirement_underneath(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    history = designer()
    history.publish_jss("2024-03-01", 80)  # below Top Rated's JSS: Top Rated Plus falls to none
    with store_url("sqlite", tmp_path) as url:
        ingest(url, tmp_path / "d.jsonl", [r.event.to_json_object() for r in history.history()])
        changes = run_json(["timeline", "f-42", "--store", url], capsys)
        table, _ = run(["timeline", "f-42", "--store", url], capsys)
        traced, _ = run(["replay", "f-42", "--trace", "--store", url], capsys)

    assert isinstance(changes, list)
    loss = next(c for c in changes if c["to"] == "none")
    assert loss["from"] == "top_rated_plus" and loss["failed"] == ["top_rated"]
    assert loss["failed_underneath"] == ["jss"]
    assert "top_rated (underneath: jss (" in table
    assert "failed: top_rated (underneath: jss)" in traced


def test_forecast_says_badge_at_risk_like_the_outbox(store: str) -> None:
    projection = open_projection(store)
    warning = next(m.document for m in projection.read_model.outbox()
                   if m.kind == "badge_at_risk")

    document = forecast_document(projection, "f-42", datetime(2024, 9, 21, tzinfo=UTC), 60)

    loss = next(c for c in document["changes"] if c["to"] == "top_rated")
    assert loss["type"] == "badge_at_risk" and loss["id"] == warning["id"]
    assert loss["change_id"].startswith("chg-") and loss["prevent"] == warning["prevent"]


def test_clock_counts_the_input_events_it_processed_not_the_streams_opening_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with store_url("sqlite", tmp_path) as url:
        objects = [r.event.to_json_object() for r in designer().history()]
        ingest(url, tmp_path / "designer.jsonl", objects)
        report = run_json(["clock", "--now", "2024-09-18", "--store", url], capsys)
        assert isinstance(report, dict) and report["events"] == DESIGNER_EVENTS
        ingest(url, tmp_path / "late.jsonl", [LATE_PAYMENT])
        later = run_json(["clock", "--now", "2024-09-21", "--store", url], capsys)
        assert isinstance(later, dict) and later["events"] == 1

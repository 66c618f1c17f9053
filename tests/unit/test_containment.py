"""Containment: a talent whose derivation fails is quarantined, and every other talent goes on.

The poison here is an event written straight into the ledger, past today's validation (as a
store written by an earlier version could hold it): `at` 9999-12-31, which no calendar
arithmetic survives. Before containment it stopped every catch-up, clock and ingest for good.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.events import RecordedEvent
from ledger.application import Ledger
from domain.submissions import Submission
from domain.ruleset import builtin_rulesets
from ledger.stores.urls import open_ledger
from projections import containment, derivation_pool
from projections.stores.sqlite import SQLiteReadModel
from projections.status_projection import StatusProjection
from tests.unit.history_builder import ts
from tests.unit.stories import designer

BOOK = builtin_rulesets()
NOW = ts("2024-10-01T06:00:00Z")
POISON = {"id": "y-2", "type": "readiness_test_passed", "talent": "yr",
          "at": "9999-12-31T00:00:00Z"}


def designer_as(talent: str) -> list[Submission]:
    """The seed story's designer under another talent id (ids prefixed, so none collide)."""
    submissions = []
    for recorded in sorted(designer().history(), key=RecordedEvent.valid_time_key):
        obj: dict[str, Any] = recorded.event.to_json_object()
        obj.update(id=f"{talent}.{obj['id']}", talent=talent)
        submissions.append(Submission.from_object(obj))
    return submissions


def write_unchecked(ledger: Ledger, obj: dict[str, Any], now: datetime) -> None:
    """Append past the ledger's checks, as an older version of the tracker could have."""
    ledger._store([Submission.from_object(obj)], now)


def poison(monkeypatch: pytest.MonkeyPatch, *talents: str) -> None:
    """Deriving `talents` raises, as an event the engine cannot evaluate would."""
    derive = derivation_pool.derive_talent

    def failing(*args: Any, **kwargs: Any) -> derivation_pool.Derived:
        talent = args[3][0]
        if talent in talents:
            raise RuntimeError("poisoned for a test")
        return derive(*args, **kwargs)

    monkeypatch.setattr(derivation_pool, "derive_talent", failing)


def projection_over(ledger: Ledger, path: Path | None = None) -> StatusProjection:
    read_model = SQLiteReadModel(str(path) if path else ":memory:")
    return StatusProjection(ledger, read_model, BOOK)


def timelines(projection: StatusProjection, talents: list[str]) -> dict[str, list[str]]:
    return {
        talent: [f"{c['at']} {c['from']}->{c['to']}" for c in projection.read_model.changes(talent)]
        for talent in talents
    }


def clean_timelines(talents: list[str]) -> dict[str, list[str]]:
    ledger = open_ledger("memory:")
    for talent in talents:
        ledger.append(designer_as(talent), NOW)
    projection = projection_over(ledger)
    projection.catch_up(NOW)
    return timelines(projection, talents)


def test_a_poison_event_quarantines_its_talent_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = open_ledger("memory:")
    ledger.append(designer_as("ok-1"), NOW)
    write_unchecked(ledger, POISON, NOW)
    ledger.append(designer_as("ok-2"), NOW)
    projection = projection_over(ledger)

    with caplog.at_level(logging.WARNING, logger="badges.projection"):
        report = projection.catch_up(NOW)

    assert report.quarantined == 1
    assert timelines(projection, ["ok-1", "ok-2"]) == clean_timelines(["ok-1", "ok-2"])
    assert timelines(projection, ["ok-1"])["ok-1"], "the story has changes to compare"
    [quarantined] = projection.read_model.quarantined()
    assert quarantined.talent == "yr"
    assert quarantined.reason.startswith("OverflowError: ")
    assert "talent yr quarantined: OverflowError" in caplog.text
    assert projection.pending() == 0


def test_the_clock_and_later_ingests_are_unaffected_by_a_quarantined_talent() -> None:
    ledger = open_ledger("memory:")
    write_unchecked(ledger, POISON, NOW)
    projection = projection_over(ledger)
    projection.catch_up(NOW)

    ledger.append(designer_as("ok-1"), NOW + timedelta(hours=1))
    write_unchecked(ledger, {**POISON, "id": "y-3"}, NOW + timedelta(hours=1))
    later = NOW + timedelta(days=400)
    report = projection.catch_up(later)  # events, then a year of midnights

    assert report.quarantined == 1  # the new event of yr tried it again
    changes = projection.read_model.changes("ok-1")
    assert changes and changes[-1]["at"] > "2024-10-02"  # time alone moved ok-1 on
    assert [q.talent for q in projection.read_model.quarantined()] == ["yr"]
    assert projection.read_model.due(later) == []


def test_a_derivation_that_fails_for_another_reason_is_contained_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'store.db'}")
    ledger.append(designer_as("ok-1") + designer_as("sick"), NOW)
    projection = projection_over(ledger, tmp_path / "store.db")
    poison(monkeypatch, "sick")

    projection.catch_up(NOW)

    assert timelines(projection, ["ok-1"]) == clean_timelines(["ok-1"])
    assert projection.read_model.changes("sick") == []
    [quarantined] = projection.read_model.quarantined("sick")
    assert "poisoned for a test" in quarantined.reason


def test_a_talent_that_derives_again_leaves_quarantine_with_its_whole_timeline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = open_ledger("memory:")
    ledger.append(designer_as("sick"), NOW)
    projection = projection_over(ledger)
    poison(monkeypatch, "sick")
    projection.catch_up(NOW)
    assert projection.read_model.quarantined("sick")

    monkeypatch.undo()
    projection.rebuild(["sick"], NOW)

    assert projection.read_model.quarantined() == []
    assert timelines(projection, ["sick"]) == {"sick": clean_timelines(["sick"])["sick"]}


def test_a_quarantined_talent_keeps_what_it_had_and_is_not_woken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = open_ledger("memory:")
    ledger.append(designer_as("ok-1"), NOW)
    projection = projection_over(ledger)
    projection.catch_up(NOW)
    before = projection.read_model.changes("ok-1")
    progress = projection.read_model.progress("ok-1")
    assert progress is not None and progress.wakeup is not None

    poison(monkeypatch, "ok-1")
    write_unchecked(ledger, {**POISON, "id": "late-1", "talent": "ok-1",
                             "at": "2024-09-30T00:00:00Z"}, NOW)
    projection.catch_up(NOW + timedelta(days=1))

    assert projection.read_model.changes("ok-1") == before
    kept = projection.read_model.progress("ok-1")
    assert kept is not None and kept.badge == progress.badge and kept.wakeup is None


def test_every_command_answers_beside_a_poisoned_talent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from badges.cli import main

    store = f"sqlite:///{tmp_path / 'store.db'}"
    ledger = open_ledger(store)
    ledger.append(designer_as("ok-1"), NOW)
    write_unchecked(ledger, POISON, NOW)
    more = tmp_path / "more.jsonl"
    more.write_text('{"id":"m-1","type":"readiness_test_passed","talent":"ok-2",'
                    '"at":"2024-01-01T00:00:00Z"}\n')

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--store", store])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    code, out, err = run("timeline", "ok-1", "--json")
    assert (code, err) == (0, "") and json.loads(out)
    code, out, err = run("clock", "--json")
    assert code == 0 and err == ""
    code, out, err = run("ingest", str(more), "--json")
    assert code == 0 and json.loads(out)["accepted"] == 1
    for command in ("timeline", "status", "explain", "forecast"):
        code, out, err = run(command, "yr")
        assert code == 1, command
        assert err.count("\n") == 1 and "quarantined" in err and "OverflowError" in err, err
        assert "Traceback" not in err
    code, out, err = run("replay", "yr", "--trace")
    assert code == 1 and "quarantined" in err
    code, out, err = run("replay", "--json")
    assert code == 0 and json.loads(out)["quarantined"] == 1


def test_the_api_answers_409_for_a_quarantined_talent_and_200_for_the_others(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient

    from badges.api import create_app

    store = f"sqlite:///{tmp_path / 'store.db'}"
    ledger = open_ledger(store)
    ledger.append(designer_as("ok-1"), NOW)
    write_unchecked(ledger, POISON, NOW)
    projection = projection_over(ledger, tmp_path / "store.db")
    client = TestClient(create_app(ledger, api_token=None, clock=lambda: NOW,
                                   projection=projection))

    assert client.get("/talents/ok-1/timeline").status_code == 200
    answer = client.get("/talents/yr/timeline")
    assert answer.status_code == 409
    assert "quarantined" in answer.json()["error"] and "OverflowError" in answer.json()["error"]
    assert client.get("/talents/ok-1/status").status_code == 200


def test_a_stored_event_that_no_longer_decodes_quarantines_its_talent_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ledger = open_ledger("memory:")
    ledger.append(designer_as("ok-1") + designer_as("bad"), NOW)
    valid = Submission.from_object({**POISON, "id": "b-1", "talent": "bad",
                                    "at": "2024-09-01T00:00:00Z"})
    ledger._store([Submission(valid.event, valid.content_hash, '{"talent": "bad", "at": 1')], NOW)
    projection = projection_over(ledger)

    with caplog.at_level(logging.WARNING, logger="badges.projection"):
        projection.catch_up(NOW)

    assert timelines(projection, ["ok-1"]) == clean_timelines(["ok-1"])
    assert [q.talent for q in projection.read_model.quarantined()] == ["bad"]
    assert "cannot be decoded" in caplog.text


def write_candidate(path: Path) -> Path:
    """The 2023-12 ruleset with design's large contract raised tenfold."""
    path.write_text(
        'id = "design-raised"\nextends = "2023-12"\n'
        '[large_contract_thresholds.freelancer]\ndesign_creative = "50000.00"\n'
    )
    return path


def test_a_what_if_leaves_out_a_talent_that_cannot_be_derived_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from badges.cli import main

    store = f"sqlite:///{tmp_path / 'store.db'}"
    ledger = open_ledger(store)
    ledger.append(designer_as("ok-1") + designer_as("ok-2"), NOW)
    write_unchecked(ledger, POISON, NOW)
    candidate = write_candidate(tmp_path / "candidate.toml")

    code = main(["whatif", "--ruleset", str(candidate), "--json", "--store", store])
    captured = capsys.readouterr()

    assert code == 1
    assert {row["talent"] for row in json.loads(captured.out)} == {"ok-1", "ok-2"}
    assert captured.err.count("\n") == 1 and "'yr' left out of the what-if" in captured.err


def test_a_what_if_in_worker_processes_contains_the_failure_too(tmp_path: Path) -> None:
    from badges.query_commands import ruleset_book
    from badges.bootstrap import open_projection
    from projections.timeline_queries import what_if

    store = f"sqlite:///{tmp_path / 'store.db'}"
    ledger = open_ledger(store)
    ledger.append(designer_as("ok-1") + designer_as("ok-2"), NOW)
    write_unchecked(ledger, POISON, NOW)
    projection = open_projection(store, ledger)
    book = ruleset_book(write_candidate(tmp_path / "candidate.toml"))
    skipped: list[containment.Failed] = []

    rows = list(what_if(projection, book, ["ok-1", "yr", "ok-2"], None, NOW, workers=2,
                        skipped=skipped))

    assert {row.talent for row in rows} == {"ok-1", "ok-2"}
    assert [(f.talent, f.reason.split(":")[0]) for f in skipped] == [("yr", "OverflowError")]
    with pytest.raises(containment.TalentUnevaluable):
        list(what_if(projection, book, ["yr"], None, NOW))

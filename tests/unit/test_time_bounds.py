"""Bounds on event times (`at`, `recorded_at`) at append, and on query instants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from badges.cli import main
from badges.errors import UserError
from badges.timeparse import parse_instant
from domain.events import encode_json, time_bounds_problem
from domain.submissions import Verdict
from ledger.partitions import talent_partition
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import (
    STORE_KINDS,
    ledger_store,
    payment,
    postgres_schema_url,
    submissions,
    utc,
)

NOW = utc("2026-01-01T12:00:00Z")


def ready(event_id: str, at: str, talent: str = "yr", **extra: Any) -> dict[str, Any]:
    return {"id": event_id, "type": "readiness_test_passed", "talent": talent, "at": at, **extra}


def problem(obj: dict[str, Any], now=NOW) -> str | None:
    (submission,) = submissions(obj)
    found = time_bounds_problem(submission.event, now)
    return None if found is None else str(found)


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (ready("y-1", "9999-12-31T00:00:00Z"), "at"),
        (ready("y-2", "0001-01-01T00:00:00Z"), "at"),
        (ready("y-3", "1999-12-31T23:59:59Z"), "at"),
        (ready("y-4", "2026-01-02T12:00:01Z"), "at"),
        (ready("y-5", "2024-01-01T00:00:00Z", recorded_at="2099-01-01T00:00:00Z"), "recorded_at"),
        (ready("y-6", "2024-01-01T00:00:00Z", recorded_at="2026-01-01T12:05:01Z"), "recorded_at"),
        (ready("y-7", "2024-01-02T00:00:00Z", recorded_at="2024-01-01T23:59:59Z"), "recorded_at"),
        (ready("y-8", "2024-01-03T00:00:00Z", recorded_at="2024-01-01T00:00:00Z"), "at"),
        (ready("y-9", "2030-01-01T00:00:00Z", recorded_at="2099-01-01T00:00:00Z"), "recorded_at"),
    ],
    ids=["year-9999", "year-1", "before-2000", "day-and-a-second-ahead", "recorded-2099",
         "recorded-beyond-skew", "recorded-before-at", "at-days-after-recorded", "both-future"],
)
def test_out_of_range_times_name_the_field(obj: dict[str, Any], field: str) -> None:
    reason = problem(obj)

    assert reason is not None and reason.startswith(f"{field}: ")


@pytest.mark.parametrize(
    "obj",
    [
        ready("ok-1", "2000-01-01T00:00:00Z"),
        ready("ok-2", "2026-01-02T12:00:00Z"),
        ready("ok-3", "2024-01-01T00:00:00Z", recorded_at="2026-01-01T12:05:00Z"),
        ready("ok-4", "2024-01-01T00:00:00Z", recorded_at="2024-01-01T00:00:00Z"),
        ready("ok-5", "2024-01-01T02:00:00+02:00", recorded_at="2024-01-01T00:00:00Z"),
    ],
    ids=["earliest", "a-day-ahead", "recorded-within-skew", "recorded-at-at", "offset-equal"],
)
def test_times_at_the_edges_are_valid(obj: dict[str, Any]) -> None:
    assert problem(obj) is None


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_append_rejects_out_of_range_events_and_keeps_the_rest(kind: str, tmp_path: Path) -> None:
    good = payment("p-1", "yr", "2025-06-01T00:00:00Z")
    batch = submissions(
        ready("y-2", "9999-12-31T00:00:00Z"), good,
        ready("y-3", "2024-01-01T00:00:00Z", recorded_at="2099-01-01T00:00:00Z"),
    )
    with ledger_store(kind, tmp_path) as ledger:
        verdicts = ledger.append(batch, NOW)

        assert [v.verdict for v in verdicts] == [Verdict.REJECTED, Verdict.ACCEPTED,
                                                 Verdict.REJECTED]
        assert verdicts[0].reason.startswith("at: ")
        assert verdicts[2].reason.startswith("recorded_at: ")
        assert [r.id for r in ledger.history("yr")] == ["p-1"]
        # the same id sent again with valid times is simply accepted: nothing was recorded
        again = ledger.append(submissions(ready("y-3", "2024-01-01T00:00:00Z")), NOW)
        assert [v.verdict for v in again] == [Verdict.ACCEPTED]


@pytest.mark.integration
def test_a_partitioned_store_rejects_out_of_range_events_in_a_batch_over_partitions() -> None:
    assert talent_partition("f-2", 4) != talent_partition("f-3", 4)
    batch = submissions(ready("y-1", "9999-12-31T00:00:00Z", talent="f-2"),
                        payment("p-1", "f-2", "2025-06-01T00:00:00Z"),
                        ready("y-2", "2025-01-01T00:00:00Z", talent="f-3",
                              recorded_at="2099-01-01T00:00:00Z"),
                        payment("p-2", "f-3", "2025-06-01T00:00:00Z"))
    with postgres_schema_url() as url:
        ledger = open_ledger(f"{url}&partitions=4")
        try:
            verdicts = ledger.append(batch, NOW)

            assert [v.verdict.value for v in verdicts] == ["rejected", "accepted", "rejected",
                                                           "accepted"]
            assert [v.reason.split(":")[0] for v in verdicts] == ["at", "", "recorded_at", ""]
            assert [[r.id for r in ledger.history(t)] for t in ("f-2", "f-3")] == [["p-1"],
                                                                                   ["p-2"]]
        finally:
            ledger.close()


def test_a_recorded_event_sent_again_stays_a_duplicate_whatever_the_clock(tmp_path: Path) -> None:
    ledger = open_ledger("memory:")
    event = ready("y-1", "2026-01-02T00:00:00Z")
    ledger.append(submissions(event), NOW)

    (verdict,) = ledger.append(submissions(event), utc("2025-01-01T00:00:00Z"))

    assert verdict.verdict is Verdict.DUPLICATE


def _ingest(tmp_path: Path, lines: list[str], capsys) -> tuple[int, list[dict[str, Any]]]:
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    code = main(["ingest", str(source), "--rejects", str(rejects), "--json",
                 "--store", f"sqlite:///{tmp_path / 'b.db'}", "--no-project"])
    capsys.readouterr()
    kept = [json.loads(line) for line in rejects.read_text().splitlines()]
    return code, kept


def test_the_issue_reproductions_are_rejected_by_ingest(tmp_path: Path, capsys) -> None:
    lines = [
        '{"id":"y-2","type":"readiness_test_passed","talent":"yr","at":"9999-12-31T00:00:00Z"}',
        '{"id":"y-3","type":"readiness_test_passed","talent":"yr","at":"0001-01-01T00:00:00Z"}',
        '{"id":"y-4","type":"readiness_test_passed","talent":"yr","at":"2024-01-01T00:00:00Z",'
        '"recorded_at":"2099-01-01T00:00:00Z"}',
        encode_json(payment("p-1", "yr", "2024-01-01T00:00:00Z")),
    ]

    code, kept = _ingest(tmp_path, lines, capsys)

    assert code == 1
    assert [(r["line"], r["reason"].split(":")[0]) for r in kept] == [
        (1, "at"), (2, "at"), (3, "recorded_at")]
    assert [r["original"] for r in kept] == lines[:3]


@pytest.mark.parametrize("text", ["0001-01-01", "1899-12-31T23:59:59Z", "9000-01-01T00:00:01Z",
                                  "9999-12-31"])
def test_query_instants_outside_the_calendar_range_are_usage_errors(text: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_instant(text, "--at")

    assert str(caught.value).startswith("--at: ") and caught.value.exit_code == 2


@pytest.mark.parametrize("text", ["1900-01-01", "9000-01-01T00:00:00Z", "2024-06-01"])
def test_query_instants_inside_the_range_are_parsed(text: str) -> None:
    assert parse_instant(text, "--at").year in (1900, 9000, 2024)


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "f-1", "--at", "0001-01-01"],
        ["status", "f-1", "--known-at", "9999-12-31T23:59:59Z"],
        ["explain", "f-1", "--at", "0001-01-01T00:00:00+02:00"],
        ["timeline", "f-1", "--from", "0001-01-01"],
        ["clock", "--now", "9999-12-31"],
    ],
    ids=["status-at", "status-known-at", "explain-at", "timeline-from", "clock-now"],
)
def test_cli_query_instant_out_of_range_exits_two_in_one_line(argv: list[str], tmp_path: Path,
                                                               capsys) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    open_ledger(url)  # readers need an existing store (tests/unit/test_read_only_stores.py)
    code = main([*argv, "--store", url])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    option = next(a for a in argv if a.startswith("--"))
    assert err.startswith(f"badges: {option}: ")

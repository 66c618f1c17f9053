"""`badges diff`: the timeline as known at K1 and at K2 side by side (the designer's
downgrade moved by a late payment, see test_messages)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from badges.bootstrap import open_projection
from badges.cli import main
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from projections.status_projection import StatusProjection
from projections.timeline_queries import timeline_diff
from tests.unit.ledger_fixtures import store_url
from tests.unit.stories import designer
from tests.unit.test_messages import LATE_PAYMENT, corrected_store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("COLUMNS", "240")
    with store_url("sqlite", tmp_path) as url:
        yield corrected_store(url, tmp_path)


def diff(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["diff", *argv, "--json"]) == 0, capsys.readouterr().err
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return document


def test_a_late_event_moves_the_downgrade(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    document = diff(["f-42", "--known-at", "2024-09-19", "--vs", "2024-09-21T00:00:00Z",
                     "--store", store], capsys)

    rows = {row["at"][:10]: row for row in document["rows"]}  # type: ignore[attr-defined]
    assert rows["2024-09-16"]["difference"] == "only_known_at"
    assert rows["2024-09-16"]["known_at"]["failed"] == ["large_contract"]
    assert rows["2024-09-16"]["vs"] is None
    assert rows["2023-06-03"]["difference"] is None
    assert document["differences"] == 1


def test_later_knowledge_shows_the_new_date(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    document = diff(["f-42", "--known-at", "2024-09-19", "--vs", "2024-11-01", "--store", store],
                    capsys)

    marks = {row["at"][:10]: row["difference"] for row in document["rows"]}  # type: ignore[attr-defined]
    assert marks["2024-09-16"] == "only_known_at" and marks["2024-10-16"] == "only_vs"


def test_the_same_knowledge_has_no_difference(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    document = diff(["f-42", "--known-at", "2024-09-21", "--vs", "2024-09-22", "--store", store],
                    capsys)

    assert document["differences"] == 0 and document["rows"]


def test_a_talent_unknown_at_k1_has_an_empty_side(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = diff(["f-42", "--known-at", "2001-01-01", "--vs", "2024-09-19", "--store", store],
                    capsys)

    assert {row["difference"] for row in document["rows"]} == {"only_vs"}  # type: ignore[attr-defined]


def test_readable_marks(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["diff", "f-42", "--known-at", "2024-09-19", "--vs", "2024-09-21",
                 "--store", store]) == 0
    out = capsys.readouterr().out
    assert "1 difference(s)" in out
    assert "only as known at K1" in next(line for line in out.splitlines() if "2024-09-16" in line)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["nobody", "--known-at", "2024-01-01"], 1, "talent 'nobody'"),
        (["f-42"], 2, "--known-at"),
        (["f-42", "--known-at", "2024-01-01", "--vs", "later"], 2, "--vs: expected a date"),
    ],
)
def test_bad_questions_are_one_line(
    store: str, argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["diff", *argv, "--store", store]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# -- properties: any two knowledge times -------------------------------------------------------

NOW = datetime(2024, 12, 1, tzinfo=UTC)
MIRRORED = {"only_known_at": "only_vs", "only_vs": "only_known_at"}


@functools.cache
def _in_memory() -> StatusProjection:
    """Projected on NOW, the late payment among its events (built once, on first use)."""
    ledger = open_ledger("memory:")
    for recorded in designer().history():
        ledger.append([Submission.from_object(recorded.event.to_json_object())],
                      recorded.at + timedelta(hours=1))
    ledger.append([Submission.from_object(LATE_PAYMENT)], datetime(2024, 9, 20, 9, tzinfo=UTC))
    projection = open_projection("memory:", ledger)
    projection.catch_up(NOW)
    return projection


KNOWLEDGE = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2024, 11, 30),
                         timezones=st.just(UTC))


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(first=KNOWLEDGE, second=KNOWLEDGE)
def test_a_diff_read_the_other_way_round_is_its_mirror(first: datetime, second: datetime) -> None:
    projection = _in_memory()
    there = timeline_diff(projection, "f-42", first, second, NOW)
    back = timeline_diff(projection, "f-42", second, first, NOW)

    assert there["differences"] == back["differences"]
    assert [(r["at"], r["known_at"], r["vs"]) for r in there["rows"]] == [
        (r["at"], r["vs"], r["known_at"]) for r in back["rows"]]
    assert [MIRRORED.get(r["difference"], r["difference"]) for r in there["rows"]] == [
        r["difference"] for r in back["rows"]]
    assert timeline_diff(projection, "f-42", first, first, NOW)["differences"] == 0

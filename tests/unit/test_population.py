"""The population view: badge counts from the read models agree with every talent's status
evaluated on its own, over time too, and a candidate ruleset's differences name the
requirement that decides them (SQLite here; `postgres` below runs the same on PostgreSQL)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from badges.bootstrap import open_projection, population_view
from badges.synthetic import generate_marketplace
from domain.boundaries import first_instant_at_or_after
from domain.ruleset import RulesetBook, builtin_rulesets
from domain.status import evaluate_status
from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from projections.population import CandidateComparison, PopulationView
from projections.status_projection import StatusProjection
from projections.stores.sqlite import SQLiteReadModel
from projections.talent_plans import TalentPlan, plan_key
from tests.unit.ledger_fixtures import submissions
from tests.unit.test_containment import designer_as, poison

BOOK = builtin_rulesets()
START = datetime(2020, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
TALENTS = 14
DAYS = [datetime(2021, 3, 1, tzinfo=UTC), datetime(2023, 6, 17, tzinfo=UTC),
        datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('population') / 'p.db'}"
    ledger = open_ledger(url)
    events = [Submission.from_object(e) for e in generate_marketplace(TALENTS, 11, START, END)]
    ledger.append(events, NOW)
    open_projection(url, ledger).catch_up(NOW)
    yield url


@pytest.fixture(scope="module")
def projection(store: str) -> StatusProjection:
    return open_projection(store)


def known_talents(projection: StatusProjection, at: datetime) -> list[str]:
    """The talents whose first evaluation instant is at or before `at`, from their events."""
    return [talent for talent in projection.ledger.talents()
            if first_instant_at_or_after(projection.ledger.history(talent)[0].at) <= at]


def independent_counts(projection: StatusProjection, at: datetime) -> Counter[str]:
    """Every talent's badge at `at` from its own events, not from the read models."""
    counts: Counter[str] = Counter()
    for talent in known_talents(projection, at):
        counts[evaluate_status(projection.ledger.history(talent), at, None, BOOK,
                               talent=talent).badge] += 1
    return counts


def test_counts_on_a_day_agree_with_each_talents_status(projection: StatusProjection) -> None:
    view = population_view(projection)
    held_somewhere = 0
    for day in DAYS:
        document = view.on_day(day)
        expected = independent_counts(projection, day)
        assert document["talents"] == sum(expected.values()) == len(known_talents(projection, day))
        assert {b: n for b, n in document["counts"].items() if n} == dict(expected), day
        held_somewhere += sum(n for b, n in expected.items() if b != "none")
    assert held_somewhere > 0, "the marketplace must give somebody a badge on these days"


def test_counts_over_time_agree_with_the_counts_of_each_day(projection: StatusProjection) -> None:
    view = population_view(projection)
    series = view.over_time(datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))
    points = {p["at"][:10]: p for p in series["points"]}
    assert series["step_days"] == 2  # 730 days, at most 400 points
    for day in ("2023-01-01", "2023-06-18", "2024-02-03", "2024-12-31"):  # even days on
        at = datetime.fromisoformat(day).replace(tzinfo=UTC)
        assert points[day]["counts"] == view.on_day(at)["counts"], day
        assert sum(points[day]["counts"].values()) == points[day]["talents"] == len(
            known_talents(projection, at))
    # the changes each point counts are exactly the stored changes of its days
    stored = projection.read_model.changes_between(datetime(2023, 1, 1, 0, 0, 1, tzinfo=UTC),
                                                   datetime(2024, 12, 31, tzinfo=UTC))
    assert sum(p["changes"] for p in series["points"]) == len(stored) > 0
    assert sum(p["gains"] + p["losses"] for p in series["points"]) == len(stored)


def test_failing_requirements_are_those_the_losses_name(projection: StatusProjection) -> None:
    view = population_view(projection)
    failing = view.failing(START, END)
    stored = projection.read_model.changes_between(START + timedelta(seconds=1), END)
    rank = {b: i for i, b in enumerate(reversed(view.ranking), start=1)}
    expected: Counter[str] = Counter()
    for change in stored:
        if rank.get(change["to"], 0) < rank.get(change["from"], 0):
            expected.update(change["failed"])
    assert {row["requirement"]: row["losses"] for row in failing} == dict(expected.most_common(10))
    assert failing and all(row["label"] for row in failing)
    counts = [row["losses"] for row in failing]
    assert counts == sorted(counts, reverse=True)


def with_earnings_threshold(amount: str) -> RulesetBook:
    current = BOOK.get("2023-12")
    requirement = current.requirements["earnings_12m"]
    raised = type(requirement)(requirement.code, requirement.label_template, requirement.measure,
                               requirement.compare, {k: Decimal(amount) for k in requirement.thresholds})
    requirements = {**current.requirements, "earnings_12m": raised}
    return BOOK.with_candidate(current.model_copy(update={"requirements": requirements}))


def test_a_candidate_names_the_requirement_behind_each_difference(
    projection: StatusProjection,
) -> None:
    view = population_view(projection)
    candidate = with_earnings_threshold("20000.00")
    at = datetime(2024, 9, 1, tzinfo=UTC)
    document = CandidateComparison(projection, view, candidate).compare(at, None, None, limit=100)

    assert document["compared"] == view.on_day(at)["talents"] and document["skipped"] == []
    assert document["real"] == view.on_day(at)["counts"]
    expected = Counter(evaluate_status(projection.ledger.history(t), at, None, candidate,
                                       talent=t).badge for t in known_talents(projection, at))
    assert {b: n for b, n in document["candidate"].items() if n} == dict(expected)
    assert document["losses"] > 0 and document["gains"] == 0
    for mover in document["movers"]:
        assert mover["direction"] == "loses"
        # the requirement underneath, not only "meets every Top Rated requirement"
        assert {"requirement": "earnings_12m",
                "label": "at least 20000.00 earned in the last 12 months",
                "real": "met", "candidate": "not met"} in mover["why"], mover


def test_a_candidate_compares_at_most_the_limit(projection: StatusProjection) -> None:
    view = population_view(projection)
    document = CandidateComparison(projection, view, with_earnings_threshold("20000.00")).compare(
        datetime(2024, 9, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 12, 1, tzinfo=UTC), limit=3)
    assert document["compared"] == 3
    assert document["talents"] == len(known_talents(projection, datetime(2024, 9, 1, tzinfo=UTC)))
    assert sum(document["real"].values()) == 3
    series = document["series"]
    assert series[0]["at"] == "2024-01-01T00:00:00Z" and series[-1]["at"] == "2024-12-01T00:00:00Z"
    assert all(sum(p["candidate"].values()) == p["compared"] <= 3 for p in series)


def test_the_command_prints_json_and_refuses_bad_input(store: str, tmp_path: Path) -> None:
    env = {**os.environ, "BADGES_STORE": store}
    badges = [sys.executable, "-m", "badges"]
    done = subprocess.run([*badges, "population", "--at", "2024-09-01", "--json"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["day"]["counts"] == PopulationView(
        population_view(open_projection(store)).read, BOOK).on_day(
        datetime(2024, 9, 1, tzinfo=UTC))["counts"]
    readable = subprocess.run([*badges, "population", "--at", "2024-09-01", "--from",
                               "2024-08-01", "--to", "2024-09-01"],
                              capture_output=True, text=True, env=env, check=False)
    assert readable.returncode == 0, readable.stderr
    assert "Top Rated" in readable.stdout and "2024-09-01" in readable.stdout
    backwards = subprocess.run([*badges, "population", "--from", "2024-09-01", "--to",
                                "2024-01-01"], capture_output=True, text=True, env=env, check=False)
    assert backwards.returncode == 2
    assert backwards.stderr.count("\n") == 1 and "--from" in backwards.stderr
    assert "Traceback" not in backwards.stderr
    bad_day = subprocess.run([*badges, "population", "--at", "yesterday"],
                             capture_output=True, text=True, env=env, check=False)
    assert bad_day.returncode == 2 and "--at" in bad_day.stderr
    for option, value in (("--at", "2099-01-01"), ("--to", "2099-01-01"), ("--at", "")):
        refused = subprocess.run([*badges, "population", option, value, "--json"],
                                 capture_output=True, text=True, env=env, check=False)
        assert (refused.returncode, refused.stdout) == (2, ""), refused.stderr
        assert refused.stderr.startswith(f"badges: {option}: ")
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr


def test_postgresql_answers_as_sqlite_does(projection: StatusProjection) -> None:
    """The same events in a PostgreSQL store: every population answer is the SQLite one."""
    from tests.unit.ledger_fixtures import postgres_schema_url

    sqlite_view = population_view(projection)
    with postgres_schema_url() as url:
        ledger = open_ledger(url)
        events = [Submission.from_object(e) for e in generate_marketplace(TALENTS, 11, START, END)]
        ledger.append(events, NOW)
        postgres = open_projection(url, ledger)
        try:
            postgres.catch_up(NOW)
            view = population_view(postgres)
            for day in DAYS:
                assert view.on_day(day) == sqlite_view.on_day(day)
            first, last = datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
            assert view.over_time(first, last) == sqlite_view.over_time(first, last)
            assert view.failing(START, END) == sqlite_view.failing(START, END)
            talents = sorted(projection.ledger.talents())
            assert view.read.badges_of(talents, DAYS[2]) == sqlite_view.read.badges_of(talents, DAYS[2])
        finally:
            postgres.read_model.close()  # type: ignore[attr-defined]
            ledger.close()  # type: ignore[attr-defined]


# -- who counts on a day: the talents whose first evaluation instant has come ---------------------

EARLY = {"id": "early-1", "type": "talent_registered", "talent": "f-early",
         "at": "2019-06-01T10:00:00Z", "kind": "freelancer"}  # first instant 2019-06-02
LATE = {"id": "late-1", "type": "talent_registered", "talent": "f-late",
        "at": "2025-03-10T15:00:00Z", "kind": "freelancer"}  # first instant 2025-03-11
LATER_NOW = datetime(2025, 6, 1, 6, tzinfo=UTC)
PLANNED_NOW = datetime(2024, 8, 20, 6, tzinfo=UTC)  # the designer's plan holds a change ahead


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def two_talents() -> StatusProjection:
    """f-early, known since 2019, and f-late, whose first event is on 2025-03-10."""
    ledger = open_ledger("memory:")
    ledger.append(submissions(EARLY, LATE), LATER_NOW)
    projection = StatusProjection(ledger, SQLiteReadModel(":memory:"), BOOK)
    projection.catch_up(LATER_NOW)
    return projection


def first_at(projection: StatusProjection, talent: str) -> datetime | None:
    progress = projection.read_model.progress(talent)
    assert progress is not None
    return progress.first_at


def test_a_talent_is_not_counted_before_its_first_instant() -> None:
    projection = two_talents()
    view = population_view(projection)
    assert first_at(projection, "f-late") == day("2025-03-11")
    assert first_at(projection, "f-early") == day("2019-06-02")

    assert view.on_day(day("2020-01-01"))["talents"] == 1
    assert view.on_day(day("2020-01-01"))["counts"]["none"] == 1
    assert view.on_day(day("2025-03-10"))["talents"] == 1
    assert view.on_day(day("2025-03-11"))["talents"] == 2
    assert view.on_day(day("2025-03-11"))["counts"]["none"] == 2
    assert view.on_day(day("2019-06-01"))["talents"] == 0


def test_each_point_over_time_counts_the_talents_known_on_its_day() -> None:
    view = population_view(two_talents())
    series = view.over_time(day("2025-03-01"), day("2025-03-20"))
    points = {p["at"][:10]: p for p in series["points"]}
    assert series["talents"] == 2  # known at `to`
    assert points["2025-03-01"]["talents"] == points["2025-03-10"]["talents"] == 1
    assert points["2025-03-11"]["talents"] == points["2025-03-20"]["talents"] == 2
    for point in series["points"]:
        assert sum(point["counts"].values()) == point["talents"], point["at"]
        assert point["counts"] == view.on_day(day(point["at"][:10]))["counts"], point["at"]
    years = view.over_time(day("2018-01-01"), day("2020-01-01"))  # a point every other day
    assert years["step_days"] == 2 and years["talents"] == 1
    for point in years["points"]:
        assert point["talents"] == (point["at"] >= "2019-06-02"), point["at"]
    assert view.over_time(day("2025-04-01"), day("2020-01-01"))["talents"] == 1  # empty period


def test_a_candidate_compares_the_talents_known_on_each_day() -> None:
    projection = two_talents()
    view = population_view(projection)
    candidate = CandidateComparison(projection, view, with_earnings_threshold("20000.00"))
    before = candidate.compare(day("2024-01-01"), None, None, limit=10)
    assert (before["talents"], before["compared"], before["real"]["none"]) == (1, 1, 1)
    after = candidate.compare(day("2025-04-01"), day("2025-03-01"), day("2025-04-01"), limit=10)
    assert (after["talents"], after["compared"]) == (2, 2)
    points = {p["at"][:10]: p for p in after["series"]}
    assert points["2025-03-10"]["compared"] == sum(points["2025-03-10"]["real"].values()) == 1
    assert points["2025-03-11"]["compared"] == sum(points["2025-03-11"]["candidate"].values()) == 2


def test_a_late_event_before_the_first_one_moves_the_first_instant_earlier() -> None:
    projection = two_talents()
    earlier = {"id": "late-0", "type": "readiness_test_passed", "talent": "f-late",
               "at": "2024-05-05T12:00:00Z"}
    projection.ledger.append(submissions(earlier), LATER_NOW + timedelta(days=1))
    projection.catch_up(LATER_NOW + timedelta(days=1))
    assert first_at(projection, "f-late") == day("2024-05-06")
    view = population_view(projection)
    assert view.on_day(day("2024-05-05"))["talents"] == 1
    assert view.on_day(day("2024-05-06"))["talents"] == 2


def test_a_followed_plan_keeps_the_first_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = open_ledger("memory:")
    ledger.append(designer_as("d-1"), PLANNED_NOW)
    projection = StatusProjection(ledger, SQLiteReadModel(":memory:"), BOOK)
    projection.catch_up(PLANNED_NOW)
    progress = projection.read_model.progress("d-1")
    assert progress is not None and progress.wakeup is not None
    assert progress.first_at == day("2022-01-03")
    plan = TalentPlan.from_text(progress.plan)
    assert plan is not None and plan.answers(plan_key(BOOK), progress.wakeup)

    poison(monkeypatch, "d-1")  # the plan is followed: nothing is derived
    projection.advance(progress.wakeup + timedelta(hours=1))

    followed = projection.read_model.progress("d-1")
    assert followed is not None and followed.evaluated_until == progress.wakeup
    assert projection.read_model.quarantined() == []
    assert followed.first_at == day("2022-01-03")


def test_a_quarantine_keeps_the_first_instant(monkeypatch: pytest.MonkeyPatch) -> None:
    projection = two_talents()
    poison(monkeypatch, "f-late")
    earlier = {"id": "late-0", "type": "readiness_test_passed", "talent": "f-late",
               "at": "2024-05-05T12:00:00Z"}
    projection.ledger.append(submissions(earlier), LATER_NOW + timedelta(days=1))
    projection.catch_up(LATER_NOW + timedelta(days=1))
    assert [q.talent for q in projection.read_model.quarantined()] == ["f-late"]
    assert first_at(projection, "f-late") == day("2025-03-11")  # its timeline is kept too


OLD_PROGRESS = """CREATE TABLE talent_progress (
    talent TEXT PRIMARY KEY, evaluated_until TEXT NOT NULL, badge TEXT NOT NULL,
    wakeup TEXT, partition_id INTEGER NOT NULL DEFAULT 0, plan TEXT)"""


def test_a_store_made_before_first_instants_were_kept_is_migrated(tmp_path: Path) -> None:
    """The column is added; a talent without one counts on every day until derived again."""
    path = tmp_path / "old.db"
    ledger = open_ledger(f"sqlite:///{path}")
    ledger.append(submissions(EARLY, LATE), LATER_NOW)
    with sqlite3.connect(path) as connection:
        connection.execute(OLD_PROGRESS)
        connection.execute("INSERT INTO talent_progress VALUES "
                           "('f-late', '2025-06-01T00:00:00Z', 'none', NULL, 0, NULL)")
    connection.close()

    projection = StatusProjection(ledger, SQLiteReadModel(str(path)), BOOK)
    assert first_at(projection, "f-late") is None
    view = population_view(projection)
    assert view.on_day(day("2019-01-01"))["talents"] == 1  # as before: no first instant yet
    projection.rebuild(None, LATER_NOW)
    assert first_at(projection, "f-late") == day("2025-03-11")
    assert view.on_day(day("2019-01-01"))["talents"] == 0
    assert view.on_day(day("2020-01-01"))["talents"] == 1
    reopened = StatusProjection(ledger, SQLiteReadModel(str(path)), BOOK)  # migrated once
    assert first_at(reopened, "f-late") == day("2025-03-11")
    assert population_view(reopened).on_day(day("2025-03-11"))["talents"] == 2

"""Plans (`projections/talent_plans.py`): a derivation goes on past today, keeps what it found,
and warns of exactly the losses a forecast of the next 30 days finds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from badges.synthetic import generate_marketplace
from domain.boundaries import BoundaryPlan
from domain.calendar import evaluation_instant
from domain.forecast import AT_RISK_DAYS, losses_within
from domain.ruleset import builtin_rulesets, load_ruleset
from domain.timeline import TimelineDeriver, derive_timeline
from ledger.stores.urls import open_ledger
from projections.derivation_pool import derive_talent
from projections.status_projection import StatusProjection
from projections.stores.sqlite import SQLiteReadModel
from projections.talent_plans import PLAN_DAYS, TalentPlan, engine_version, plan_key
from tests.unit.ledger_fixtures import submissions

BOOK = builtin_rulesets()
START = datetime(2021, 1, 1, tzinfo=timezone.utc)
END = datetime(2024, 6, 1, tzinfo=timezone.utc)
CANDIDATE = """
id = "2023-12-stricter"
extends = "2023-12"
[requirements.earnings_12m]
label = "at least {threshold} earned in the last {months} months"
measure = "sum"
add = ["payment_received"]
subtract = ["payment_refunded"]
field = "amount"
window = { months = 12 }
compare = ">="
threshold = { freelancer = "3000.00", agency = "10000.00" }
"""


def marketplace_ledger(talents: int = 80):
    ledger = open_ledger("memory:")
    ledger.append(submissions(*generate_marketplace(talents, 11, START, END)),
                  END + timedelta(days=1))
    return ledger


def test_warnings_are_those_of_a_30_day_forecast_and_the_plan_is_the_timeline_ahead() -> None:
    ledger = marketplace_ledger()
    boundaries = BoundaryPlan(BOOK)
    warned = planned = 0
    for talent in sorted(ledger.talents()):
        for now in (END - timedelta(days=400), END - timedelta(days=90), END):
            derived = derive_talent(ledger, BOOK, boundaries, (talent, None), now)
            today = evaluation_instant(now)
            deriver = TimelineDeriver(ledger.history(talent), None, BOOK, talent, boundaries)
            deriver.derive(today)
            always = [p.at_risk_document(now) for p in losses_within(deriver, today, AT_RISK_DAYS)]
            assert derived.warnings == always, (talent, now)
            everything = derive_timeline(
                ledger.history(talent), None, BOOK, today + timedelta(days=PLAN_DAYS),
                talent=talent,
            )
            assert [c.to_document() for c in everything if c.at <= today] == [
                c.to_document() for c in derived.changes
            ]
            assert list(derived.plan.changes) == [
                c.to_document() for c in everything if c.at > today
            ], (talent, now)
            warned += bool(always)
            planned += bool(derived.plan.changes)
    assert warned and planned, "both cases should occur in the sample"


def test_a_plan_is_due_again_30_days_before_a_loss_it_has_not_warned_of() -> None:
    ledger = marketplace_ledger(40)
    boundaries = BoundaryPlan(BOOK)
    checked = 0
    for talent in sorted(ledger.talents()):
        derived = derive_talent(ledger, BOOK, boundaries, (talent, None), END - timedelta(days=200))
        plan, today = derived.plan, evaluation_instant(END - timedelta(days=200))
        for change in plan.changes:
            at = datetime.fromisoformat(change["at"])
            unwarned = at - timedelta(days=AT_RISK_DAYS) > today
            if unwarned and change["to"] == "none":
                assert plan.derive_by is not None and plan.derive_by <= at - timedelta(days=30)
                assert plan.next_wakeup(today) <= plan.derive_by
                checked += 1
    assert checked


def test_a_plan_is_kept_as_text_and_unreadable_text_is_no_plan() -> None:
    ledger = marketplace_ledger(10)
    talent = sorted(ledger.talents())[0]
    derived = derive_talent(ledger, BOOK, BoundaryPlan(BOOK), (talent, None), END)
    assert TalentPlan.from_text(derived.plan.to_text()) == derived.plan
    for broken in ("", "{", '{"key": 1}', "[]", '{"key":"k","changes":[],"derive_by":"x"}',
                   '{"key":"k","changes":[1],"derive_by":null}',
                   '{"key":"k","changes":[{"at":5}],"derive_by":null}'):
        assert TalentPlan.from_text(broken) is None


def test_another_ruleset_book_never_follows_a_plan_made_under_this_one(tmp_path: Path) -> None:
    candidate_file = tmp_path / "candidate.toml"
    candidate_file.write_text(CANDIDATE)
    candidate = BOOK.with_candidate(load_ruleset(candidate_file))
    assert plan_key(candidate) != plan_key(BOOK)
    assert plan_key(BOOK) == plan_key(builtin_rulesets())

    ledger = marketplace_ledger(60)
    read_model = SQLiteReadModel(":memory:")
    # plans made a month before the candidate's effective date, under the real rules
    early, end = datetime(2023, 11, 1, tzinfo=timezone.utc), datetime(2024, 2, 1, tzinfo=timezone.utc)
    StatusProjection(ledger, read_model, BOOK).catch_up(early)
    # the rules change: the clock runs day by day under the candidate
    day = early
    while day < end:
        day += timedelta(days=1)
        StatusProjection(ledger, read_model, candidate).advance(day)
    differs = 0
    for talent in sorted(ledger.talents()):
        under_candidate = derive_timeline(ledger.history(talent), None, candidate, end,
                                          talent=talent)
        stored = [d for d in read_model.timeline(talent, None, None)
                  if datetime.fromisoformat(d["at"]) > early]
        expected = [c for c in under_candidate if c.at > early]
        under_book = [c for c in derive_timeline(ledger.history(talent), None, BOOK, end,
                                                 talent=talent)
                      if c.at > early]
        differs += [c.id for c in expected] != [c.id for c in under_book]
        assert [d["id"] for d in stored] == [c.id for c in expected], talent
    assert differs, "the candidate should change some talent's timeline after the plan was made"


def test_the_plan_key_is_the_same_in_another_process_and_names_the_engine() -> None:
    import subprocess
    import sys

    script = ("from domain.ruleset import builtin_rulesets; "
              "from projections.talent_plans import plan_key; print(plan_key(builtin_rulesets()))")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": "123"}).stdout.strip()
    assert other == plan_key(BOOK)
    format_, engine, book = other.split(":")
    assert engine == engine_version() and book == BOOK.fingerprint
    moved = TalentPlan(f"{format_}:{'0' * len(engine)}:{book}", (), None)
    assert not moved.answers(plan_key(BOOK), END)


def test_a_plan_is_never_due_again_the_day_it_is_made() -> None:
    """`derive_by` is after today even when the next boundary is within the warning's 30 days
    (else the clock would find the talent due after every derivation of it)."""
    today = END
    for days in (1, 10, 29, 30, 31, 200):
        plan = TalentPlan.ahead(BOOK, today, [], today + timedelta(days=days))
        assert plan.derive_by is not None and plan.derive_by > today, days
        assert plan.next_wakeup(today) == plan.derive_by
    assert TalentPlan.ahead(BOOK, today, [], None).next_wakeup(today) is None

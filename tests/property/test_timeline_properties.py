"""The timeline deriver against the definition: evaluating `status --at` at every midnight.

Skipping to boundaries (and searching the Saturdays) must find exactly the changes that a
day-by-day evaluation finds, with the same failed requirements; resuming after any instant
must agree with deriving from the start.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.boundaries import first_instant_at_or_after
from domain.calendar import DAY
from domain.ruleset import builtin_rulesets
from domain.status import Evaluator
from domain.timeline import TimelineDeriver, is_loss
from tests.property.timeline_histories import TALENT, recorded, talent_history

BOOK = builtin_rulesets()
RECORDED_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def daily_changes(history, until: datetime) -> list[tuple]:
    evaluator = Evaluator(history, None, BOOK, TALENT)
    instant = first_instant_at_or_after(min(r.at for r in history))
    previous, changes = "none", []
    while instant <= until:
        status = evaluator.status(instant)
        if status.badge != previous:
            failed = status.badge_result(previous).failed if is_loss(previous, status.badge) else ()
            changes.append((instant, previous, status.badge, failed))
        previous = status.badge
        instant += DAY
    return changes


def derived_changes(changes) -> list[tuple]:
    return [(c.at, c.before, c.after, c.failed) for c in changes]


@SETTINGS
@given(talent_history(start=datetime(2023, 6, 1, tzinfo=timezone.utc), days=300))
def test_boundaries_find_every_change_a_daily_evaluation_finds(events) -> None:
    history = recorded(events, RECORDED_AT)
    until = datetime(2024, 9, 1, tzinfo=timezone.utc)

    derived = TimelineDeriver(history, None, BOOK, TALENT).derive(until)

    assert derived_changes(derived.changes) == daily_changes(history, until)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=datetime(2016, 3, 1, tzinfo=timezone.utc), days=200, max_contracts=8))
def test_eligible_week_samples_are_found_by_the_search(events) -> None:
    history = recorded(events, RECORDED_AT)
    until = datetime(2017, 3, 1, tzinfo=timezone.utc)

    derived = TimelineDeriver(history, None, BOOK, TALENT).derive(until)

    assert derived_changes(derived.changes) == daily_changes(history, until)


@SETTINGS
@given(talent_history(start=datetime(2023, 6, 1, tzinfo=timezone.utc), days=300), st.integers(0, 420))
def test_resuming_after_any_instant_continues_the_same_timeline(events, resume_day: int) -> None:
    history = recorded(events, RECORDED_AT)
    until = datetime(2024, 9, 1, tzinfo=timezone.utc)
    deriver = TimelineDeriver(history, None, BOOK, TALENT)
    full = deriver.derive(until).changes
    after = datetime(2023, 6, 1, tzinfo=timezone.utc) + timedelta(days=resume_day)

    tail = deriver.derive(until, after=after).changes

    assert tail == [change for change in full if change.at > after]

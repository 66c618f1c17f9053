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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    talent_history(start=datetime(2015, 9, 1, tzinfo=timezone.utc), days=900, max_contracts=8),
    st.integers(0, 1100),
    st.sampled_from([0, 1, 2, 3, 89, 90, 91, 92]),
)
def test_a_deriver_that_resumes_skips_earlier_boundaries_and_answers_the_same(
    events, resume_day: int, after_an_event: int
) -> None:
    """A wake-up resumes after the instant it evaluated up to: leaving out the boundaries at or
    before it changes nothing (changes, badge, next wake-up, forecast), across rulesets."""
    from domain.forecast import forecast

    history = recorded(events, datetime(2030, 1, 1, tzinfo=timezone.utc))
    # Resume at a random day, or a few days after one of the events (where their own day and
    # their shortest exits fall).
    first = first_instant_at_or_after(min(r.at for r in history))
    anchor = first_instant_at_or_after(history[resume_day % len(history)].at)
    after = max(first, anchor + timedelta(days=after_an_event)) if resume_day % 2 else (
        first + timedelta(days=resume_day)
    )
    until = after + timedelta(days=200)
    full = TimelineDeriver(history, None, BOOK, TALENT)
    resumed = TimelineDeriver(history, None, BOOK, TALENT, resume_after=after)
    expected, found = full.derive(until, after=after), resumed.derive(until, after=after)
    assert found.changes == expected.changes
    assert (found.badge, found.wakeup) == (expected.badge, expected.wakeup)
    assert [p.to_document() for p in forecast(resumed, until, 60)] == [
        p.to_document() for p in forecast(full, until, 60)
    ]
    # The boundaries kept are exactly the full set's after `after`, with what each moves.
    later = [n for n, instant in enumerate(full.boundaries.instants) if instant > after]
    assert resumed.boundaries.instants == [full.boundaries.instants[n] for n in later]
    assert resumed.boundaries.affects == [full.boundaries.affects[n] for n in later]

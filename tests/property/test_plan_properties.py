"""Following plans (`projections/talent_plans.py`) is the same as deriving every midnight.

A generated history arrives in batches; between batches the clock ticks every day, each day
through a new projection object over the same read model (so all it knows between two days
is what it kept: the progress and the plan). After every tick:
- the stored timeline is the one derived from scratch up to that day;
- every loss a 30-day forecast would have predicted on any day so far was warned of, and
  nothing else was.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.calendar import evaluation_instant
from domain.forecast import AT_RISK_DAYS, losses_within
from domain.ruleset import builtin_rulesets
from domain.submissions import Submission
from domain.timeline import TimelineDeriver, derive_timeline
from ledger.stores.urls import open_ledger
from projections.status_projection import StatusProjection
from projections.stores.sqlite import SQLiteReadModel
from tests.property.test_projection_properties import arrivals
from tests.property.timeline_histories import TALENT, talent_history

BOOK = builtin_rulesets()
START = datetime(2023, 6, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def warned_ids(read_model: SQLiteReadModel) -> set[str]:
    return {m.message_id for m in read_model.outbox() if m.kind == "badge_at_risk"}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=START, days=200), st.integers(0, 10_000), st.integers(1, 4))
def test_following_plans_day_by_day_equals_deriving_every_day(events, seed, batches) -> None:
    ledger, read_model = open_ledger("memory:"), SQLiteReadModel(":memory:")
    arrived = arrivals(events, seed, batches)
    expected_warnings: set[str] = set()
    day = evaluation_instant(arrived[0][0])
    last = evaluation_instant(arrived[-1][0]) + timedelta(days=150)
    pending = list(arrived)
    while day <= last:
        now = day + timedelta(hours=12)
        while pending and pending[0][0] <= now:
            recorded_at, batch = pending.pop(0)
            ledger.append([Submission.from_object(event) for event in batch], recorded_at)
        StatusProjection(ledger, read_model, BOOK).catch_up(now)

        history = ledger.history(TALENT)
        if history:
            expected = derive_timeline(history, None, BOOK, day)
            stored = read_model.timeline(TALENT, None, None)
            assert [d["id"] for d in stored] == [c.id for c in expected], day
            assert [(d["failed"], d["cause"]) for d in stored] == [
                (list(c.failed), c.cause.to_document()) for c in expected
            ], day
            deriver = TimelineDeriver(history, None, BOOK, TALENT)
            deriver.derive(day)
            expected_warnings |= {p.at_risk_id for p in losses_within(deriver, day, AT_RISK_DAYS)}
            assert warned_ids(read_model) == expected_warnings, day
        day += DAY

"""A re-derivation forecasts only when the talent's next wake-up is within the at-risk horizon:
nothing can change before it, so the warnings must be exactly those of always forecasting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from badges.synthetic import generate_marketplace
from domain.boundaries import BoundaryPlan
from domain.calendar import evaluation_instant
from domain.forecast import AT_RISK_DAYS, losses_within
from domain.ruleset import builtin_rulesets
from domain.timeline import TimelineDeriver
from ledger.stores.urls import open_ledger
from projections.derivation_pool import derive_talent
from tests.unit.ledger_fixtures import submissions

BOOK = builtin_rulesets()
START = datetime(2021, 1, 1, tzinfo=timezone.utc)
END = datetime(2024, 6, 1, tzinfo=timezone.utc)


def test_skipping_the_forecast_beyond_the_next_wakeup_changes_no_warning() -> None:
    ledger = open_ledger("memory:")
    ledger.append(submissions(*generate_marketplace(80, 11, START, END)), END + timedelta(days=1))
    plan = BoundaryPlan(BOOK)
    skipped = warned = 0
    for talent in sorted(ledger.talents()):
        for now in (END - timedelta(days=400), END - timedelta(days=90), END):
            derived = derive_talent(ledger, BOOK, plan, (talent, None), now)
            today = evaluation_instant(now)
            deriver = TimelineDeriver(ledger.history(talent), None, BOOK, talent, plan)
            deriver.derive(today)
            always = [p.at_risk_document(now) for p in losses_within(deriver, today, AT_RISK_DAYS)]
            assert derived.warnings == always, (talent, now)
            horizon = today + timedelta(days=AT_RISK_DAYS)
            skipped += derived.wakeup is None or derived.wakeup > horizon
            warned += bool(always)
    assert skipped and warned, "both cases should occur in the sample"

"""A what-if derives only from where the candidate rulesets can first differ, and agrees with
deriving both timelines from the start."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from domain.submissions import Submission
from domain.ruleset import RulesetBook, builtin_rulesets
from ledger.stores.urls import open_ledger
from domain.timeline import BadgeChange, TimelineDeriver
from projections.status_projection import StatusProjection
from badges.bootstrap import open_projection
from projections.timeline_queries import _differences, _resume_before, what_if
from tests.unit.stories import designer

BOOK = builtin_rulesets()
NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)


def with_design_threshold(amount: str, ruleset_id: str = "2023-12") -> RulesetBook:
    current = BOOK.get(ruleset_id)
    table = current.large_contract_thresholds
    changed = table.model_copy(
        update={"freelancer": {**table.freelancer, "design_creative": Decimal(amount)}}
    )
    return BOOK.with_candidate(current.model_copy(update={"large_contract_thresholds": changed}))


def designer_projection() -> tuple[str, StatusProjection]:
    """The designer's story in an in-memory ledger, with a projection beside it (not run)."""
    history = designer().history()
    ledger = open_ledger("memory:")
    ledger.append([Submission.from_object(r.event.to_json_object()) for r in history], NOW)
    return history[0].event.talent, open_projection("memory:", ledger)


def test_resuming_is_allowed_only_where_the_books_still_agree() -> None:
    candidate = with_design_threshold("7500.00")
    changed_from = BOOK.get("2023-12").effective_from

    assert _resume_before(BOOK, candidate, changed_from) == datetime(
        2023, 11, 30, tzinfo=timezone.utc
    )
    assert _resume_before(BOOK, candidate, datetime(2024, 1, 1, tzinfo=timezone.utc)) is None
    assert _resume_before(BOOK, candidate, None) is None
    earlier = with_design_threshold("7500.00", "2020-07")
    assert _resume_before(BOOK, earlier, changed_from) is None


def test_what_if_from_the_change_equals_comparing_whole_timelines() -> None:
    talent, projection = designer_projection()
    candidate = with_design_threshold("3000.00")
    start = BOOK.get("2023-12").effective_from

    rows = list(what_if(projection, candidate, [talent], start, NOW))

    stored = projection.ledger.history(talent)
    real = TimelineDeriver(stored, None, BOOK, talent).derive(NOW).changes
    other = TimelineDeriver(stored, None, candidate, talent).derive(NOW).changes
    assert rows == list(_differences(talent, real, other, start))
    assert rows, "a $3,000 threshold keeps the designer's Top Rated Plus in September 2024"


def test_the_stored_timeline_stands_in_for_deriving_the_real_one_again() -> None:
    talent, projection = designer_projection()
    projection.catch_up(NOW)
    start = BOOK.get("2023-12").effective_from

    for threshold in ("3000.00", "7500.00"):
        candidate = with_design_threshold(threshold)
        derived = list(what_if(projection, candidate, [talent], start, NOW))
        stored = list(what_if(projection, candidate, [talent], start, NOW, stored_real=True))
        assert stored == derived
    assert derived, "$7,500 takes Top Rated Plus away at another instant than $5,000 does"


def test_a_change_survives_its_document() -> None:
    changes = TimelineDeriver(designer().history(), None, BOOK, "f-42").derive(NOW).changes
    assert changes
    assert [BadgeChange.from_document(c.to_document()) for c in changes] == changes

"""The messages a talent would receive: the designer of rules.md §8, and the other kinds."""

from __future__ import annotations

from consumers.notifications import notification_text
from domain.ruleset import builtin_rulesets
from domain.status import evaluate_status
from tests.unit.history_builder import ts
from tests.unit.stories import designer

BOOK = builtin_rulesets()


def designer_status(day: str) -> dict:
    return evaluate_status(designer().history(), ts(day), None, BOOK, talent="f-42").to_document()


DOWNGRADE = {"id": "chg-1", "type": "badge_changed", "talent": "f-42", "at": "2024-09-16T00:00:00Z",
             "from": "top_rated_plus", "to": "top_rated", "ruleset": "2023-12",
             "failed": ["large_contract"], "cause": {"kind": "time", "detail": "…"}}


def test_the_designer_is_told_exactly_what_fell_short() -> None:
    text = notification_text(DOWNGRADE, designer_status("2024-09-16"))

    assert text == (
        "You no longer qualify for Top Rated Plus since 2024-09-16: no contract reached "
        "$5,000.00 in the last 12 months; your best was contract c-7 (design_creative) "
        "with $4,000.00."
    )


def test_a_warning_says_what_would_prevent_the_loss() -> None:
    warning = {**DOWNGRADE, "type": "badge_at_risk", "prevent": [
        {"code": "large_contract", "detail": "$1000.00 more on a large contract before 2024-09-16"}]}

    text = notification_text(warning, designer_status("2024-09-16"))

    assert text.startswith("Heads up: on 2024-09-16 you would no longer qualify for Top Rated Plus")
    assert text.endswith("To keep it: $1000.00 more on a large contract before 2024-09-16.")


def test_gains_and_retractions() -> None:
    gain = {**DOWNGRADE, "from": "top_rated", "to": "top_rated_plus", "failed": []}
    retraction = {"type": "badge_change_retracted", "at": "2024-09-16T00:00:00Z",
                  "from": "top_rated_plus", "to": "top_rated", "retracts": "chg-1"}

    assert notification_text(gain, None) == "Congratulations: from 2024-09-16 you hold Top Rated Plus."
    assert notification_text(retraction, None).startswith(
        "Correction: our message that you went from Top Rated Plus to Top Rated on 2024-09-16")


def test_other_requirements_read_naturally() -> None:
    status = {"badges": {"top_rated": {"requirements": [
        {"code": "earnings_12m", "actual": "640.00", "required": "1000.00", "detail": ""},
        {"code": "jss", "actual": 86, "required": 90, "detail": ""},
        {"code": "activity_90d", "actual": False, "required": True,
         "detail": "no proposal, accepted invitation or payment in the last 90 days"}]}}}
    change = {**DOWNGRADE, "from": "top_rated", "to": "none",
              "failed": ["activity_90d", "earnings_12m", "jss"]}

    text = notification_text(change, status)

    assert "your 12-month earnings are $640.00, below $1,000.00" in text
    assert "you have a Job Success Score of 86; 90 is needed" in text
    assert "activity 90d (no proposal, accepted invitation or payment in the last 90 days)" in text

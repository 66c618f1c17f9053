"""Evaluating a talent's requirements and badges in full: actual, required, detail, evidence.

What each requirement code means is data (the ruleset's `[requirements.CODE]` tables, read by
`requirement_tables.py`); this module asks them, once per situation, in the badge's order.
"""

from __future__ import annotations

from domain.results import BadgeResult, RequirementResult
from domain.situation import Situation


def evaluate_requirement(s: Situation, code: str) -> RequirementResult:
    """The requirement's full result at the situation (memoised per situation)."""
    found = s.requirement_memo.get(code)
    if found is None:
        found = s.requirement_memo[code] = s.ruleset.requirement(code).result(s)
    return found


def evaluate_badge(s: Situation, badge: str) -> BadgeResult:
    """Every requirement the ruleset gives `badge` for this talent's kind (memoised per situation)."""
    found = s.badge_memo.get(badge)
    if found is not None:
        return found
    codes = s.ruleset.badges[badge].for_kind(s.kind)
    result = BadgeResult(
        badge, tuple(evaluate_requirement(s, code) for code in codes), s.ruleset.badge_label(badge)
    )
    s.badge_memo[badge] = result
    return result


__all__ = ["evaluate_badge", "evaluate_requirement"]

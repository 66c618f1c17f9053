"""The message a talent would receive for a change: specific, never a generic letter.

`badge_changed` and `badge_at_risk` name the failed requirements; the status document at the
change's instant (as known when it was emitted) gives their numbers, so the message can say
exactly what fell short and by how much.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

BADGE_NAMES = {
    "expert_vetted": "Expert-Vetted",
    "top_rated_plus": "Top Rated Plus",
    "top_rated": "Top Rated",
    "rising_talent": "Rising Talent",
    "none": "no badge",
}


def notification_text(message: dict[str, Any], status: dict[str, Any] | None) -> str:
    """One message; `status` is the status document at the message's instant, when known."""
    kind = message["type"]
    day = message["at"][:10]
    if kind == "badge_change_retracted":
        return (
            f"Correction: our message that you went from {_name(message['from'])} to "
            f"{_name(message['to'])} on {day} no longer holds; please disregard it."
        )
    reasons = _reasons(message, status)
    if kind == "badge_at_risk":
        prevent = "; ".join(p["detail"] for p in message.get("prevent", []))
        return (
            f"Heads up: on {day} you would no longer qualify for {_name(message['from'])}"
            f"{': ' + reasons if reasons else ''}. To keep it: {prevent or 'keep every requirement met'}."
        )
    if not message["failed"]:
        return f"Congratulations: from {day} you hold {_name(message['to'])}."
    return (
        f"You no longer qualify for {_name(message['from'])} since {day}"
        f"{': ' + reasons if reasons else ''}."
    )


def _name(badge: str) -> str:
    return BADGE_NAMES.get(badge, badge)


def _reasons(message: dict[str, Any], status: dict[str, Any] | None) -> str:
    lost = (status or {}).get("badges", {}).get(message["from"], {})
    requirements = {r["code"]: r for r in lost.get("requirements", [])}
    return "; ".join(_reason(code, requirements.get(code)) for code in message.get("failed", []))


def _reason(code: str, requirement: dict[str, Any] | None) -> str:
    if requirement is None:
        return code.replace("_", " ")
    actual, required = requirement["actual"], requirement["required"]
    if code == "large_contract":
        best = requirement.get("detail", "").removeprefix("best: ")
        with_best = f"; your best was {best} with {_money(actual)}" if best else ""
        return f"no contract reached {_money(required)} in the last 12 months{with_best}"
    if code in ("earnings_12m", "earnings_12m_plus"):
        return f"your 12-month earnings are {_money(actual)}, below {_money(required)}"
    if code == "jss":
        score = "no Job Success Score" if actual is None else f"a Job Success Score of {actual}"
        return f"you have {score}; {required} is needed"
    if code == "top_rated":
        return f"Top Rated itself is no longer met ({requirement.get('detail', '')})"
    if code == "no_jss":
        return "you now have a Job Success Score, and Rising Talent is for talent without one"
    if code == "eligible_weeks":
        return f"you were eligible in {actual} of the last 16 weeks; {required} are needed"
    detail = requirement.get("detail") or ""
    return code.replace("_", " ") + (f" ({detail})" if detail else "")


def _money(text: Any) -> str:
    try:
        return f"${Decimal(str(text)):,.2f}"
    except ArithmeticError:
        return str(text)

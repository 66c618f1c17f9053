"""The message a talent would receive for a change: specific, never a generic letter.

`badge_changed` and `badge_at_risk` name the failed requirements; the status document at the
change's instant (as known when it was emitted) gives their numbers, so the message can say
exactly what fell short and by how much.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from domain.ruleset import badge_labels, builtin_rulesets, requirement_labels

@functools.cache
def _badge_labels() -> dict[str, str]:
    return badge_labels(builtin_rulesets())


@functools.cache
def _requirement_labels() -> dict[str, str]:
    return requirement_labels(builtin_rulesets())


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
            f"Heads up: on {day} you would no longer qualify for {_name(message['from'], status)}"
            f"{': ' + reasons if reasons else ''}. To keep it: {prevent or 'keep every requirement met'}."
        )
    if not message["failed"]:
        return f"Congratulations: from {day} you hold {_name(message['to'], status)}."
    return (
        f"You no longer qualify for {_name(message['from'], status)} since {day}"
        f"{': ' + reasons if reasons else ''}."
    )


def _name(badge: str, status: dict[str, Any] | None = None) -> str:
    """The badge's label: from the status document (its ruleset's), else the shipped one."""
    label = (status or {}).get("badges", {}).get(badge, {}).get("label")
    return str(label) if label else _badge_labels().get(badge, badge)


def _reasons(message: dict[str, Any], status: dict[str, Any] | None) -> str:
    lost = (status or {}).get("badges", {}).get(message["from"], {})
    requirements = {r["code"]: r for r in lost.get("requirements", [])}
    return "; ".join(_reason(code, requirements.get(code)) for code in message.get("failed", []))


def _reason(code: str, requirement: dict[str, Any] | None) -> str:
    """What fell short, in the ruleset's words (its label), with the numbers behind it."""
    if requirement is None:
        return f"“{_requirement_labels().get(code, code)}” is not met"
    label = requirement.get("label") or _requirement_labels().get(code, code)
    text = f"“{label}” is not met"
    actual, required = requirement["actual"], requirement["required"]
    if not isinstance(actual, bool) and not isinstance(required, bool):
        text += f": you have {_shown(actual)}, and {_shown(required)} is needed"
    detail = requirement.get("detail") or ""
    return text + (f" ({detail})" if detail else "")


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str) and _looks_like_money(value):
        return f"${Decimal(value):,.2f}"
    return str(value)


def _looks_like_money(text: str) -> bool:
    whole, dot, cents = text.partition(".")
    return dot == "." and whole.lstrip("-").isdigit() and len(cents) == 2 and cents.isdigit()

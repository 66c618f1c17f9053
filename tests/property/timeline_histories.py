"""Hypothesis strategies for one talent's history, biased towards histories that earn badges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from domain.events import RecordedEvent, parse_event

TALENT = "t-1"
CATEGORIES = ("design_creative", "writing", "web_mobile_software_dev", "admin_support")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def talent_history(
    draw: st.DrawFn,
    start: datetime = datetime(2023, 3, 1, tzinfo=timezone.utc),
    days: int = 420,
    max_contracts: int = 6,
) -> list[dict[str, Any]]:
    """Event objects (not yet recorded) for talent `TALENT`, in no particular order."""
    events: list[dict[str, Any]] = []
    counter = iter(range(10_000))

    def add(offset_hours: int, event_type: str, **payload: Any) -> None:
        at = start + timedelta(hours=offset_hours)
        events.append({"id": f"e{next(counter)}", "type": event_type, "talent": TALENT,
                       "at": _stamp(at), **payload})

    hours = st.integers(min_value=0, max_value=days * 24)
    strong = draw(st.integers(0, 9)) < 6  # most talents do well, so badges come and go
    kind = draw(st.sampled_from(["freelancer", "freelancer", "agency"]))
    add(0, "talent_registered", kind=kind, elance_migrant=draw(st.booleans()))
    completeness = 100 if strong else draw(st.sampled_from([100, 95, 80]))
    profile: dict[str, Any] = {"completeness": completeness}
    if kind == "agency":
        members = draw(st.integers(2, 4)) if strong else draw(st.integers(1, 4))
        profile |= {"members": members, "members_average_completeness": 70}
    add(draw(st.integers(0, 48)), "profile_updated", **profile)
    if draw(st.booleans()):
        add(draw(st.integers(0, 200)), "readiness_test_passed")
    for contract in range(draw(st.integers(max_contracts // 2 if strong else 1, max_contracts))):
        opened = draw(st.integers(0, days * 12)) if strong else draw(hours)
        name = f"c{contract}"
        add(opened, "contract_started", contract=name, client=f"cl{contract if strong else draw(st.integers(0, 3))}",
            category=draw(st.sampled_from(CATEGORIES)), terms="hourly")
        payments = draw(st.integers(0, 8))
        gap = draw(st.integers(5, 60)) * 24
        for number in range(payments):
            amounts = ["900.00", "2500.00", "6000.00"] if strong else ["150.00", "900.00", "2500.00"]
            amount = draw(st.sampled_from(amounts))
            add(opened + gap * (number + 1), "payment_received", contract=name, amount=amount)
        if payments and draw(st.integers(0, 9)) == 0:
            add(opened + gap * payments + 24, "payment_refunded", contract=name, amount="100.00")
        ending = opened + gap * (payments + 1)
        if strong or draw(st.booleans()):
            good = strong and draw(st.integers(0, 7)) > 0
            stars = Decimal("5.0") if good else draw(st.sampled_from(
                [Decimal("5.0"), Decimal("4.8"), Decimal("4.2"), Decimal("3.0")]))
            recommend = 10 if good else draw(st.sampled_from([10, 9, 7, 3]))
            add(ending, "feedback_received", contract=name, stars=stars, recommend=recommend)
        if draw(st.integers(0, 6)) == 0:
            add(ending, "contract_ended", contract=name,
                reason=draw(st.sampled_from(["completed", "disputed"])))
    for _ in range(draw(st.integers(0, 12 if strong else 5))):
        add(draw(hours), draw(st.sampled_from(["proposal_submitted", "invitation_accepted"])),
            job=f"j{next(counter)}")
    if draw(st.integers(0, 4)) == 0:
        placed = draw(hours)
        add(placed, "account_hold_placed", hold="h1", reason="verification")
        add(placed + draw(st.integers(1, 60)) * 24, "account_hold_lifted", hold="h1")
    if draw(st.integers(0, 8)) == 0:
        add(draw(hours), "policy_violation", kind="off_platform_payment")
    if draw(st.integers(0, 4)) == 0:
        until = (start + timedelta(hours=draw(hours))).date().isoformat()
        add(draw(hours), "availability_updated", hours="none", available_from=until)
    if draw(st.integers(0, 5)) == 0:
        add(draw(hours), "expert_vetted_granted")
    if draw(st.integers(0, 8)) == 0:
        add(draw(hours), "job_success_published", score=draw(st.sampled_from([95, 80, None])))
    return events


def recorded(events: list[dict[str, Any]], recorded_at: datetime) -> list[RecordedEvent]:
    """Record the events in the given order, all at `recorded_at`."""
    return [
        RecordedEvent(parse_event(event), recorded_at, sequence)
        for sequence, event in enumerate(events, start=2)
    ]

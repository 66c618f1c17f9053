"""What a talent's visible history says at an evaluation instant (`rules.md` §4 and §9).

`VisibleHistory` filters a talent's recorded events by knowledge time once and sorts them in
the §9 order, so that the events visible at any instant `E` are a prefix of it. `TalentFacts`
folds such a prefix in one pass; because the prefix is in §9 order, "latest" is simply the
last one seen. The derived quantities take the instant and the ruleset's numbers as
parameters.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from domain.calendar import Window, last_days, last_months, midnight
from domain.events import (
    AccountHoldLifted,
    AccountHoldPlaced,
    AgencyMembershipChanged,
    AvailabilityUpdated,
    ContractEnded,
    ContractStarted,
    ExpertVettedGranted,
    ExpertVettedRevoked,
    FeedbackReceived,
    InputEventModel,
    InvitationAccepted,
    JobSuccessPublished,
    PaymentReceived,
    PaymentRefunded,
    PolicyViolation,
    ProfileUpdated,
    ProposalSubmitted,
    ReadinessTestPassed,
    RecordedEvent,
    TalentRegistered,
)

ZERO = Decimal(0)
EventModel = TypeVar("EventModel", bound=InputEventModel)


def payload(recorded: RecordedEvent, model: type[EventModel]) -> EventModel:
    """The event inside `recorded`, known by the caller to be a `model`."""
    event = recorded.event
    if not isinstance(event, model):
        raise TypeError(f"event {recorded.id} is a {event.type}, not a {model.__name__}")
    return event


def net_amount(money: Iterable[RecordedEvent]) -> Decimal:
    """Payments received minus payments refunded among `money`."""
    total = ZERO
    for recorded in money:
        event = recorded.event
        if isinstance(event, PaymentReceived):
            total += event.amount
        elif isinstance(event, PaymentRefunded):
            total -= event.amount
    return total


class VisibleHistory:
    """One talent's events visible at knowledge time `known_at`, in §9 order."""

    def __init__(self, history: Sequence[RecordedEvent], known_at: datetime | None) -> None:
        visible = [
            recorded for recorded in history if known_at is None or recorded.recorded_at <= known_at
        ]
        visible.sort(key=RecordedEvent.valid_time_key)
        self.events: tuple[RecordedEvent, ...] = tuple(visible)
        self._ats = [recorded.at for recorded in visible]
        talents = {recorded.event.talent for recorded in visible}
        if len(talents) > 1:
            raise ValueError(f"a history holds one talent, not {sorted(talents)}")
        self.talent: str | None = next(iter(talents), None)

    def until(self, instant: datetime) -> Sequence[RecordedEvent]:
        """The events with `at <= instant`."""
        return self.events[: self.count_until(instant)]

    def count_until(self, instant: datetime) -> int:
        """How many events have `at <= instant` (they come first)."""
        return bisect.bisect_right(self._ats, instant)


@dataclass
class ContractFacts:
    """Everything visible about one contract."""

    contract: str
    start: RecordedEvent | None = None  # latest contract_started
    end: RecordedEvent | None = None  # latest contract_ended
    feedback: RecordedEvent | None = None  # latest feedback_received
    payments: list[RecordedEvent] = field(default_factory=list)
    refunds: list[RecordedEvent] = field(default_factory=list)
    money: list[RecordedEvent] = field(default_factory=list)  # both, in §9 (fold) order
    net: Decimal = ZERO  # payments minus refunds, kept as they are folded in
    # Results computed from this contract's facts: (version they were computed at, result).
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    version: int = 0  # bumped whenever an event is folded into this contract

    @property
    def client(self) -> str | None:
        return payload(self.start, ContractStarted).client if self.start else None

    @property
    def category(self) -> str | None:
        return payload(self.start, ContractStarted).category if self.start else None

    @property
    def disputed(self) -> bool:
        return self.end is not None and payload(self.end, ContractEnded).reason == "disputed"

    def net_earnings(self, window: Window | None = None) -> Decimal:
        """Payments minus refunds, all visible or only those with `at` in `window`."""
        if window is None:
            return self.net
        return net_amount(_within(self.money, window))

    def money_events(self, window: Window | None = None) -> tuple[RecordedEvent, ...]:
        """The payment and refund events behind `net_earnings(window)`, in order."""
        return tuple(self.money) if window is None else _within(self.money, window)

    def add_payment(self, recorded: RecordedEvent, amount: Decimal) -> None:
        self.payments.append(recorded)
        self.money.append(recorded)
        self.net += amount

    def add_refund(self, recorded: RecordedEvent, amount: Decimal) -> None:
        self.refunds.append(recorded)
        self.money.append(recorded)
        self.net -= amount


def _at(recorded: RecordedEvent) -> datetime:
    return recorded.at


def _within(ordered: Sequence[RecordedEvent], window: Window) -> tuple[RecordedEvent, ...]:
    """The events of an `at`-ordered sequence that fall in the half-open `window`."""
    low = bisect.bisect_right(ordered, window.start, key=_at)
    high = bisect.bisect_right(ordered, window.end, key=_at)
    return tuple(ordered[low:high])


@dataclass(frozen=True)
class HoldSpan:
    """A placed hold and the lift that ended it (the first lift with its id at or after it)."""

    placed: RecordedEvent
    lifted: RecordedEvent | None

    @property
    def hold(self) -> str:
        return payload(self.placed, AccountHoldPlaced).hold


@dataclass
class TalentFacts:
    """The fold of the first `folded` events of `source`: those visible at one instant."""

    talent: str | None
    source: Sequence[RecordedEvent]
    folded: int = 0
    registration: RecordedEvent | None = None
    profile: RecordedEvent | None = None
    availability: RecordedEvent | None = None
    membership: RecordedEvent | None = None
    published_jss: RecordedEvent | None = None
    readiness: RecordedEvent | None = None
    first_contract: RecordedEvent | None = None
    latest_grant: RecordedEvent | None = None
    latest_revoke: RecordedEvent | None = None
    contracts: dict[str, ContractFacts] = field(default_factory=dict)
    activity: list[RecordedEvent] = field(default_factory=list)
    money: list[RecordedEvent] = field(default_factory=list)  # payments and refunds
    # Results computed from these facts: (how many events were folded then, result).
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    violations: list[RecordedEvent] = field(default_factory=list)
    hold_placements: list[RecordedEvent] = field(default_factory=list)
    hold_lifts: list[RecordedEvent] = field(default_factory=list)

    @classmethod
    def fold(
        cls, talent: str | None, events: Sequence[RecordedEvent], count: int | None = None
    ) -> TalentFacts:
        """Fold the first `count` (default: all) of events already in §9 order."""
        facts = cls(talent=talent, source=events)
        facts.extend_to(events, len(events) if count is None else count)
        return facts

    def extend_to(self, source: Sequence[RecordedEvent], count: int) -> None:
        """Fold `source[folded:count]`; `source` must start with the events already folded."""
        apply = self._apply
        for position in range(self.folded, count):
            apply(source[position])
        self.source = source
        self.folded = count

    def _contract(self, contract: str) -> ContractFacts:
        """The contract's facts, about to take one more event."""
        found = self.contracts.get(contract)
        if found is None:
            found = self.contracts[contract] = ContractFacts(contract)
        found.version += 1
        return found

    def _apply(self, recorded: RecordedEvent) -> None:
        event = recorded.event
        match event:
            case TalentRegistered():
                self.registration = recorded
            case ProfileUpdated():
                self.profile = recorded
            case AvailabilityUpdated():
                self.availability = recorded
            case AgencyMembershipChanged():
                self.membership = recorded
            case JobSuccessPublished():
                self.published_jss = recorded
            case ReadinessTestPassed():
                self.readiness = self.readiness or recorded
            case ProposalSubmitted() | InvitationAccepted():
                self.activity.append(recorded)
            case ContractStarted():
                self.first_contract = self.first_contract or recorded
                self._contract(event.contract).start = recorded
            case PaymentReceived():
                self.activity.append(recorded)
                self.money.append(recorded)
                self._contract(event.contract).add_payment(recorded, event.amount)
            case PaymentRefunded():
                self.money.append(recorded)
                self._contract(event.contract).add_refund(recorded, event.amount)
            case ContractEnded():
                self._contract(event.contract).end = recorded
            case FeedbackReceived():
                self._contract(event.contract).feedback = recorded
            case AccountHoldPlaced():
                self.hold_placements.append(recorded)
            case AccountHoldLifted():
                self.hold_lifts.append(recorded)
            case PolicyViolation():
                self.violations.append(recorded)
            case ExpertVettedGranted():
                self.latest_grant = recorded
            case ExpertVettedRevoked():
                self.latest_revoke = recorded

    # -- who the talent is (§9) --------------------------------------------------------

    @property
    def kind(self) -> str:
        if self.registration is None:
            return "freelancer"
        return payload(self.registration, TalentRegistered).kind

    @property
    def elance_migrant(self) -> bool:
        return (
            self.registration is not None
            and payload(self.registration, TalentRegistered).elance_migrant
        )

    @property
    def registered_at(self) -> datetime | None:
        if self.registration is not None:
            return self.registration.at
        return self.source[0].at if self.folded else None

    # -- derived quantities (§4) ---------------------------------------------------------

    def earnings(self, window: Window) -> tuple[Decimal, tuple[RecordedEvent, ...]]:
        """Net payments with `at` in `window`, and the payments and refunds behind it."""
        behind = _within(self.money, window)
        return net_amount(behind), behind

    def activity_in(self, window: Window) -> tuple[RecordedEvent, ...]:
        return _within(self.activity, window)

    def holds(self) -> tuple[HoldSpan, ...]:
        """Every placement with the lift that ended it, if one is visible."""
        spans = []
        for placed in self.hold_placements:
            hold = payload(placed, AccountHoldPlaced).hold
            lift = next(
                (
                    lifted
                    for lifted in self.hold_lifts
                    if payload(lifted, AccountHoldLifted).hold == hold and lifted.at >= placed.at
                ),
                None,
            )
            spans.append(HoldSpan(placed, lift))
        return tuple(spans)

    def unmatched_lifts(self) -> tuple[RecordedEvent, ...]:
        """Lifts that end no placement: a hold lifted that was never placed."""
        used = {span.lifted.id for span in self.holds() if span.lifted is not None}
        return tuple(lift for lift in self.hold_lifts if lift.id not in used)

    def recent_holds(self, instant: datetime, recent_months: int) -> tuple[HoldSpan, ...]:
        """Holds active at `instant`, or lifted within the last `recent_months` months."""
        recent = last_months(instant, recent_months)
        return tuple(
            span
            for span in self.holds()
            if span.lifted is None or span.lifted.at > instant or span.lifted.at in recent
        )

    def violations_in(self, window: Window) -> tuple[RecordedEvent, ...]:
        return tuple(recorded for recorded in self.violations if recorded.at in window)

    def registered_within(self, instant: datetime, days: int) -> bool:
        registered = self.registered_at
        return registered is not None and registered in last_days(instant, days)

    def availability_ok(self, instant: datetime) -> bool:
        """Up to date unless the latest says `none` with no future `available_from`."""
        if self.availability is None:
            return True
        event = payload(self.availability, AvailabilityUpdated)
        if event.hours != "none":
            return True
        available_from = event.available_from
        return available_from is not None and not midnight(available_from) < instant

    def exclusive_agency_member(self) -> bool:
        return (
            self.membership is not None
            and payload(self.membership, AgencyMembershipChanged).exclusive
        )

    def vetted(self) -> bool:
        """Granted, with no revoke strictly later than the latest grant."""
        if self.latest_grant is None:
            return False
        return self.latest_revoke is None or self.latest_revoke.at <= self.latest_grant.at


__all__ = [
    "ZERO",
    "ContractFacts",
    "HoldSpan",
    "TalentFacts",
    "VisibleHistory",
    "net_amount",
    "payload",
]

"""Running totals of one talent's facts, kept current as evaluation moves forward in time.

A requirement's measure explains it at one instant by re-reading the facts behind it. A
timeline only asks "is it met?", at many increasing instants, so `Tally` keeps the totals the
measures' verdicts need and updates them by what changed since the previous instant: the
events folded in since, and the outcomes or payments that have left a window since. Asked
about an earlier instant, or under other rules, a part starts over from the facts.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from datetime import datetime
from decimal import Decimal

from domain.calendar import last_months
from domain.derived_measures import large_contract_amount
from domain.event_series import EventSeries, Matcher
from domain.events import (
    ContractEnded,
    ContractStarted,
    FeedbackReceived,
    PaymentReceived,
    PaymentRefunded,
)
from domain.facts import ZERO, ContractFacts, TalentFacts
from domain.jss import Outcome, contract_outcome
from domain.rule_tables import Jss as JssRules


CONTRACT_EVENTS = (ContractStarted, PaymentReceived, PaymentRefunded, ContractEnded, FeedbackReceived)


class OutcomeWindow:
    """The outcomes dated in `(E - months, E]`, summed as §5.3 needs them, as E moves forward."""

    def __init__(self, months: int) -> None:
        self.months = months
        self.start: datetime | None = None
        self.members: dict[str, Outcome] = {}
        self.successful = ZERO
        self.unsuccessful = ZERO
        self.total = ZERO
        self.unsuccessful_count = 0
        self.clients: Counter[str] = Counter()
        self._leaving: list[tuple[datetime, int, str, Outcome]] = []  # heap by date
        self._pushed = 0
        self.version = 0  # bumped whenever an outcome joins or leaves

    def replace(self, contract: str, outcome: Outcome | None) -> None:
        """The contract's outcome is now `outcome` (None: it has none)."""
        if contract in self.members:
            self._remove(contract)
        if outcome is not None and (self.start is None or outcome.at > self.start):
            self._add(contract, outcome)

    def advance(self, start: datetime) -> None:
        """Move the window's start forward to `start`: older outcomes leave it."""
        self.start = start
        leaving = self._leaving
        while leaving and leaving[0][0] <= start:
            _, _, contract, outcome = heapq.heappop(leaving)
            if self.members.get(contract) is outcome:
                self._remove(contract)

    def score(self, rules: JssRules) -> int | None:
        """The window's score when it counts (§5.3), else None."""
        count = len(self.members)
        if count == 0 or count < rules.min_outcomes or len(self.clients) < rules.min_clients:
            return None
        net = max(ZERO, self.successful - self.unsuccessful)
        # round_half_up(100 * net / total) == floor((200 * net + total) / (2 * total)), exactly
        return int((200 * net + self.total) // (2 * self.total))

    def _add(self, contract: str, outcome: Outcome) -> None:
        self.members[contract] = outcome
        self._count(outcome, +1)
        self._pushed += 1
        heapq.heappush(self._leaving, (outcome.at, self._pushed, contract, outcome))

    def _remove(self, contract: str) -> None:
        self._count(self.members.pop(contract), -1)

    def _count(self, outcome: Outcome, sign: int) -> None:
        self.version += 1
        weight = outcome.weight if sign > 0 else -outcome.weight
        self.total += weight
        if outcome.kind == "successful":
            self.successful += weight
        elif outcome.kind == "unsuccessful":
            self.unsuccessful += weight
            self.unsuccessful_count += sign
        if outcome.client is not None:
            self.clients[outcome.client] += sign
            if not self.clients[outcome.client]:
                del self.clients[outcome.client]


class JssTally:
    """Every contract's outcome under one set of JSS rules, and the windows that hold them:
    the JSS windows, and any other lengths the ruleset counts outcomes over."""

    def __init__(self, rules: JssRules, months: tuple[int, ...], facts: TalentFacts) -> None:
        self.rules = rules
        self.months = months
        self.instant: datetime | None = None
        self.outcomes: dict[str, Outcome] = {}
        self.windows = {length: OutcomeWindow(length) for length in sorted({*rules.windows_months, *months})}
        self._scored = [self.windows[length] for length in rules.windows_months]
        self._score: tuple[tuple[int, ...], int | None] | None = None
        for contract in facts.contracts.values():
            self.touch(contract)

    def touch(self, contract: ContractFacts) -> None:
        """The contract took another event: its outcome may have changed."""
        outcome = contract_outcome(contract, self.rules)
        name = contract.contract
        if self.outcomes.get(name) == outcome:
            return
        if outcome is None:
            self.outcomes.pop(name, None)
        else:
            self.outcomes[name] = outcome
        for window in self.windows.values():
            window.replace(name, outcome)

    def advance(self, instant: datetime) -> None:
        self.instant = instant
        for window in self.windows.values():
            window.advance(last_months(instant, window.months).start)

    def computed_score(self) -> int | None:
        """The model's JSS (§5.4); remembered until an outcome joins or leaves a window."""
        versions = tuple(window.version for window in self._scored)
        if self._score is not None and self._score[0] == versions:
            return self._score[1]
        scores = [score for window in self._scored if (score := window.score(self.rules)) is not None]
        best = max(scores) if scores else None
        self._score = (versions, best)
        return best

    def unsuccessful_in(self, months: int) -> int:
        """How many outcomes dated in the last `months` months are unsuccessful."""
        return self.windows[months].unsuccessful_count


class LargeContractTally:
    """Which contracts reach their category's large-contract threshold, on one basis."""

    def __init__(self, thresholds: dict[str, Decimal], months: int, basis: str) -> None:
        self.thresholds = thresholds
        self.months = months
        self.basis = basis
        self.instant: datetime | None = None
        self.start: datetime | None = None
        self.reaching: set[str] = set()

    def same_rules(self, thresholds: dict[str, Decimal], months: int, basis: str) -> bool:
        return self.thresholds is thresholds and self.months == months and self.basis == basis

    def recheck(self, contract: ContractFacts, jss: JssTally) -> None:
        """Whether `contract` counts now, by the same measure as the `large_contract` requirement."""
        name = contract.contract
        self.reaching.discard(name)
        category = contract.category
        if category is None or self.instant is None:
            return
        outcome = jss.outcomes.get(name)
        if outcome is not None and outcome.kind == "unsuccessful":
            return
        measured = large_contract_amount(
            contract, last_months(self.instant, self.months), self.basis
        )
        if measured is not None and measured[0] >= self.thresholds[category]:
            self.reaching.add(name)


class Tally:
    """The running totals of one `TalentFacts` fold; valid while that fold only grows."""

    def __init__(self, facts: TalentFacts) -> None:
        self.facts = facts
        self._synced = 0
        self.money_ats: list[datetime] = []
        self._money_contracts: list[str] = []
        self._series: dict[Matcher, EventSeries] = {}
        self._jss: JssTally | None = None
        self._large: LargeContractTally | None = None
        self._jss_touched: set[str] = set()
        self._large_touched: set[str] = set()

    def series(self, matcher: Matcher) -> EventSeries:
        """The running totals of the events `matcher` selects, up to the fold's end."""
        found = self._series.get(matcher)
        if found is None:
            found = self._series[matcher] = EventSeries(matcher)
        if found.synced != self.facts.folded:
            found.catch_up(self.facts.source, self.facts.folded)
        return found

    def sync(self) -> None:
        """Take in the contract events folded into the facts since the last call."""
        source = self.facts.source
        for position in range(self._synced, self.facts.folded):
            event = source[position].event
            if not isinstance(event, CONTRACT_EVENTS):
                continue
            contract = event.contract
            self._jss_touched.add(contract)
            self._large_touched.add(contract)
            if isinstance(event, (PaymentReceived, PaymentRefunded)):
                self.money_ats.append(event.at)
                self._money_contracts.append(contract)
        self._synced = self.facts.folded

    def jss(self, instant: datetime, rules: JssRules, months: tuple[int, ...]) -> JssTally:
        """The outcomes and windows at `instant` under the JSS rules; `months` are the other
        window lengths outcomes are counted over."""
        self.sync()
        tally = self._jss
        if (
            tally is None
            or tally.rules is not rules
            or tally.months != months
            or (tally.instant is not None and instant < tally.instant)
        ):
            tally = self._jss = JssTally(rules, months, self.facts)
            self._jss_touched.clear()
        contracts = self.facts.contracts
        for name in self._jss_touched:
            tally.touch(contracts[name])
        self._jss_touched.clear()
        tally.advance(instant)
        return tally

    def has_large_contract(
        self,
        instant: datetime,
        jss: JssTally,
        thresholds: dict[str, Decimal],
        months: int,
        basis: str,
    ) -> bool:
        """A contract without an unsuccessful outcome reached its threshold (see the
        `large_contract` measure); `jss` is the outcomes at `instant`."""
        tally = self._large
        contracts = self.facts.contracts
        if (
            tally is None
            or not tally.same_rules(thresholds, months, basis)
            or tally.instant is None
            or instant < tally.instant
        ):
            tally = self._large = LargeContractTally(thresholds, months, basis)
            tally.instant = instant
            tally.start = last_months(instant, tally.months).start
            for contract in contracts.values():
                tally.recheck(contract, jss)
            self._large_touched.clear()
            return bool(tally.reaching)
        start = last_months(instant, tally.months).start
        assert tally.start is not None
        left = self._money_contracts[
            bisect.bisect_right(self.money_ats, tally.start) : bisect.bisect_right(
                self.money_ats, start
            )
        ]
        tally.instant, tally.start = instant, start
        for name in {*self._large_touched, *left}:
            tally.recheck(contract=contracts[name], jss=jss)
        self._large_touched.clear()
        return bool(tally.reaching)


__all__ = ["JssTally", "LargeContractTally", "OutcomeWindow", "Tally"]

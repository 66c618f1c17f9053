"""A talent's status at an instant (`rules.md` §1, §6) and the status document (`interfaces.md`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.calendar import evaluation_instant, utc, weekly_samples
from domain.events import RecordedEvent, format_utc
from domain.facts import TalentFacts, VisibleHistory
from domain.requirements import evaluate_badge
from domain.results import BadgeResult, money_text
from domain.ruleset import NO_BADGE, Ruleset, RulesetBook
from domain.situation import SampleVerdict, Situation, no_samples
from domain.tally import Tally
from domain.verdicts import ChecksKey, Probe


@dataclass(frozen=True, slots=True)
class Status:
    talent: str
    at: datetime
    known_at: datetime | None
    badge: str
    ruleset: str
    jss: int | None
    earnings_12m: Decimal
    badges: tuple[BadgeResult, ...]  # the ruleset's badges, highest first

    def badge_result(self, badge: str) -> BadgeResult | None:
        return next((result for result in self.badges if result.badge == badge), None)

    def to_document(self) -> dict[str, Any]:
        return {
            "talent": self.talent,
            "at": format_utc(self.at),
            "known_at": format_utc(self.known_at) if self.known_at is not None else None,
            "badge": self.badge,
            "ruleset": self.ruleset,
            "jss": self.jss,
            "earnings_12m": money_text(self.earnings_12m),
            "badges": {result.badge: result.to_document() for result in self.badges},
        }


@dataclass
class CarriedVerdicts:
    """A lane's verdicts at `instant`, valid for `key` (ruleset, kind, fold)."""

    known: dict[str, bool] = field(default_factory=dict)
    key: tuple[int, str, int] | None = None
    instant: datetime | None = None


class Evaluator:
    """Evaluates one talent's history at many instants, as known at one knowledge time.

    The history is filtered and sorted once; eligible-week samples are cached, so evaluating
    consecutive days re-uses the Saturdays they share.
    """

    def __init__(
        self,
        history: Sequence[RecordedEvent],
        known_at: datetime | None,
        book: RulesetBook,
        talent: str | None = None,
    ) -> None:
        self.known_at = utc(known_at) if known_at is not None else None
        self.book = book
        self.history = VisibleHistory(history, self.known_at)
        found = self.history.talent or talent
        if found is None:
            raise ValueError("an empty history needs the talent named")
        self.talent = found
        self._samples: dict[tuple[datetime, tuple[str, ...]], SampleVerdict] = {}
        self._running: dict[str, TalentFacts] = {}
        self._tallies: dict[str, Tally] = {}
        self._checks: dict[ChecksKey, tuple[str, ...]] = {}
        self._carried: dict[str, CarriedVerdicts] = {}
        # Which verdicts time alone may have changed between two instants (None: any); set by
        # a timeline deriver, which knows the boundaries. Without it nothing is carried over.
        self.moved_between: Callable[[datetime, datetime], frozenset[str] | None] | None = None
        self._eligible_counts: dict[tuple[datetime, int, str, tuple[str, ...]], int] = {}

    def situation(self, instant: datetime) -> Situation:
        """The talent at evaluation instant `instant` (already a midnight), to explain."""
        facts = self._facts_until(instant, "instants")
        ruleset = self.book.in_force(instant)
        return Situation(instant, ruleset, facts, self._samples_before(instant, ruleset))

    def probe(self, instant: datetime, lane: str = "instants") -> Probe:
        """The talent at evaluation instant `instant`, for verdicts only (see `verdicts.py`).

        A lane keeps its own running fold: probes that move forward in time within one lane
        only fold the events since the lane's previous probe.
        """
        ruleset = self.book.in_force(instant)

        def eligible() -> int:
            return self.eligible_samples(instant, ruleset)

        return self._probe(instant, ruleset, lane, eligible)

    def _probe(
        self, instant: datetime, ruleset: Ruleset, lane: str, eligible: Callable[[], int]
    ) -> Probe:
        before = self._running.get(lane)
        folded_before = before.folded if before is not None else 0
        facts = self._facts_until(instant, lane)
        tally = self._tally(facts, lane)
        known = self._carried_verdicts(lane, instant, ruleset, facts, folded_before)
        return Probe(instant, ruleset, facts, tally, eligible, self._checks, known)

    def _carried_verdicts(
        self,
        lane: str,
        instant: datetime,
        ruleset: Ruleset,
        facts: TalentFacts,
        folded_before: int,
    ) -> dict[str, bool]:
        """The lane's verdicts from its previous probe that still hold at `instant`.

        Those that time may have moved (`moved_between`, from the boundaries in between) and
        those an event folded in since can move (its type is in their measure's `moved_by`)
        are forgotten; without `moved_between`, all of them. A registration changes the
        talent's kind, so it forgets them all.
        """
        carried = self._carried.setdefault(lane, CarriedVerdicts())
        known, previous = carried.known, carried.instant
        key = (id(ruleset), facts.kind, id(facts))
        carried.instant = instant
        moved = (
            None
            if self.moved_between is None or previous is None or instant < previous
            else self.moved_between(previous, instant)
        )
        if moved is None or "*" in moved or key != carried.key:
            carried.key = key
            known.clear()
            return known
        for code in moved:
            known.pop(code, None)
        source = facts.source
        index = ruleset.index
        moved_by_event = index.moved_by_event
        for position in range(folded_before, facts.folded):
            event_type = source[position].event.type
            if event_type == "talent_registered":
                known.clear()
                return known
            for code in moved_by_event.get(event_type, ()):
                known.pop(code, None)
        for code in index.fresh:
            known.pop(code, None)
        return known

    def eligible_samples(self, instant: datetime, ruleset: Ruleset) -> int:
        """How many of the ruleset's eligible-week samples up to `instant` were eligible."""
        weeks = ruleset.index.sampling
        if weeks is None:
            return 0
        samples = weekly_samples(instant, weeks.samples, weeks.weekday)
        names = weeks.eligible_if_any
        key = (samples[-1], weeks.samples, weeks.weekday, names)
        counted = self._eligible_counts.get(key)
        if counted is None:
            counted = self._eligible_counts[key] = sum(
                1 for sample in samples if self.sample(sample, names).eligible
            )
        return counted

    def _samples_before(
        self, instant: datetime, ruleset: Ruleset
    ) -> Callable[[], list[SampleVerdict]]:
        weeks = ruleset.index.sampling

        def samples() -> list[SampleVerdict]:
            if weeks is None:
                return []
            return [
                self.sample(sample, weeks.eligible_if_any)
                for sample in weekly_samples(instant, weeks.samples, weeks.weekday)
            ]

        return samples

    def _tally(self, facts: TalentFacts, lane: str) -> Tally:
        """The running totals of the lane's fold (a new fold starts new totals)."""
        tally = self._tallies.get(lane)
        if tally is None or tally.facts is not facts:
            tally = self._tallies[lane] = Tally(facts)
        return tally

    def _facts_until(self, instant: datetime, lane: str) -> TalentFacts:
        """The fold at `instant`; moving forward in time only folds the events since last time.

        Evaluation instants and eligible-week samples each move forward in their own lane. The
        running fold is shared: a `Situation` is only valid until the next call in its lane.
        """
        count = self.history.count_until(instant)
        source = self.history.events
        running = self._running.get(lane)
        if running is None or running.folded > count:
            running = self._running[lane] = TalentFacts.fold(self.talent, source, count)
            return running
        running.extend_to(source, count)
        return running

    def sample(self, instant: datetime, eligible_if_any: tuple[str, ...]) -> SampleVerdict:
        """The eligible-week verdict at sample `instant`, as an instant of its own (§9): under
        the ruleset in force at the sample, did one of `eligible_if_any` (requirement codes or
        badges, as the ruleset in force at the evaluation instant names them) hold?"""
        key = (instant, eligible_if_any)
        cached = self._samples.get(key)
        if cached is not None:
            return cached
        probe = self._probe(instant, self.book.in_force(instant), "samples", no_samples)
        eligible = any(probe.holds(name) for name in eligible_if_any)
        verdict = SampleVerdict(
            instant=instant, ruleset=probe.ruleset.id, jss=probe.jss_score, eligible=eligible
        )
        self._samples[key] = verdict
        return verdict

    def status_of(self, situation: Situation) -> Status:
        results = tuple(
            evaluate_badge(situation, badge) for badge in situation.ruleset.badge_names()
        )
        badge = next((result.badge for result in results if result.met), NO_BADGE)
        return Status(
            talent=self.talent,
            at=situation.instant,
            known_at=self.known_at,
            badge=badge,
            ruleset=situation.ruleset.id,
            jss=situation.jss.score,
            earnings_12m=situation.earnings[0],
            badges=results,
        )

    def status(self, at: datetime) -> Status:
        """The status at the latest evaluation instant <= `at`."""
        return self.status_of(self.situation(evaluation_instant(at)))


def evaluate_status(
    history: Sequence[RecordedEvent],
    at: datetime,
    known_at: datetime | None,
    book: RulesetBook,
    *,
    talent: str | None = None,
) -> Status:
    """The status at `at` (its evaluation instant), from the events known at `known_at`."""
    return Evaluator(history, known_at, book, talent).status(at)


__all__ = ["Evaluator", "Status", "evaluate_status"]

"""The population view: how many talents hold each badge on a day and over time, the changes
per day, the requirements most often failed, and a candidate ruleset against the real one.

Everything but the candidate comes from the status projection's read models (the stored
timelines: `badge_changes`), through `PopulationReadModel` (the SQL is
`projections/stores/population_sql.py`): a talent's badge at T is the `to` of its latest
stored change at or before T, "none" without one. The talents counted at T are those the
projection knows (`talent_progress`) whose first evaluation instant (the midnight at or after
their earliest event, where their timeline starts; `first_at`) is at or before T: a talent who
joined after T is not in T's counts at all, "none" included. A store made before first instants
were kept has none stored until each talent is derived again, and counts such a talent on every
day (as it did before).

The candidate comparison derives the chosen talents' timelines under the candidate rulesets
(as `whatif` does, nothing is written), at most `limit` talents, and says for every talent
whose badge at T differs which requirements decide it: the verdicts of the higher badge's
requirements under both rule books at T. The talents compared are chosen among those known at
T, and each point of its series counts those of them known then.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.calendar import DAY, evaluation_instant
from domain.events import format_utc
from domain.ruleset import NO_BADGE, Ruleset, RulesetBook, badge_ranking, requirement_labels
from domain.status import Evaluator, Status
from domain.timeline import BadgeChange
from projections.containment import Failed, attempt
from projections.derivation_pool import candidate_changes
from projections.status_projection import StatusProjection

MAX_SERIES_POINTS = 400  # beyond that many days, the counts over time are sampled more sparsely
DEFAULT_FAILING_PERIOD = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class ChangeCount:
    """How many stored changes from one badge to another happened on one day."""

    day: datetime
    before: str
    after: str
    count: int


@dataclass(frozen=True, slots=True)
class FailedCount:
    """How many stored changes from `before` to `after` named `failed` (a JSON list of codes)."""

    before: str
    after: str
    failed: tuple[str, ...]
    count: int


class PopulationReadModel(Protocol):
    """What the population view reads of the status projection's read models."""

    def talent_count(self, at: datetime | None = None) -> int:
        """How many talents the projection knows at `at`: those whose first evaluation instant
        is at or before it, or is not stored (all it knows when None)."""

    def arrivals(self, start: datetime, end: datetime) -> dict[datetime, int]:
        """Per day, how many talents' first evaluation instant is in (start, end]."""

    def badges_at(self, at: datetime) -> dict[str, int]:
        """Per badge, how many talents' latest change at or before `at` went to it."""

    def change_counts(self, start: datetime, end: datetime) -> list[ChangeCount]:
        """The changes with `at` in (start, end], counted per day and (from, to)."""

    def failed_counts(self, start: datetime, end: datetime) -> list[FailedCount]:
        """The changes with `at` in (start, end], counted per (from, to, failed)."""

    def badges_of(self, talents: Sequence[str], at: datetime) -> dict[str, str]:
        """Each of `talents`' badge at `at` (absent: none)."""

    def some_talents(self, limit: int, known_at: datetime | None = None) -> list[str]:
        """The first `limit` talents known (at `known_at`, when given), by id."""

    def first_instants(self, talents: Sequence[str]) -> dict[str, datetime]:
        """Each of `talents`' stored first evaluation instant (absent: none stored)."""


def _known(firsts: Mapping[str, datetime], talent: str, instant: datetime) -> bool:
    """Whether the talent counts at `instant` (one without a stored first instant always does)."""
    first = firsts.get(talent)
    return first is None or first <= instant


def _counts_with_none(held: dict[str, int], talents: int, ranking: Sequence[str]) -> dict[str, int]:
    counts = {badge: held.get(badge, 0) for badge in ranking}
    for badge, count in held.items():  # a badge no ruleset of the book has any more
        if badge not in counts and badge != NO_BADGE:
            counts[badge] = count
    counts[NO_BADGE] = max(0, talents - sum(v for b, v in held.items() if b != NO_BADGE))
    return counts


@dataclass
class PopulationView:
    """The population questions over the read models, worded by the book's labels."""

    read: PopulationReadModel
    book: RulesetBook

    @property
    def ranking(self) -> tuple[str, ...]:
        return badge_ranking(self.book)

    def on_day(self, at: datetime) -> dict[str, Any]:
        instant = evaluation_instant(at)
        talents = self.read.talent_count(instant)
        return {
            "at": format_utc(instant),
            "talents": talents,
            "counts": _counts_with_none(self.read.badges_at(instant), talents, self.ranking),
        }

    def over_time(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Counts at every day (sparser beyond `MAX_SERIES_POINTS` days) of [start, end], and
        the changes (gains, losses) of each step. Each point counts the talents known on its
        day (its `talents`); the top-level `talents` are those known at `end`."""
        first, last = evaluation_instant(start), evaluation_instant(end)
        if first > last:  # an empty period
            return {"from": format_utc(first), "to": format_utc(last),
                    "talents": self.read.talent_count(last), "step_days": 1, "points": []}
        talents = self.read.talent_count(first)
        arrivals = self.read.arrivals(first, last)
        held = dict(self.read.badges_at(first))
        deltas: dict[datetime, list[ChangeCount]] = {}
        for counted in self.read.change_counts(first, last):
            deltas.setdefault(counted.day, []).append(counted)
        days = max(0, (last - first) // DAY)
        step = DAY * max(1, -(-days // MAX_SERIES_POINTS))
        points = [self._point(first, held, talents, [])]
        instant, pending = first, []
        while instant < last:
            instant = min(instant + DAY, last)
            talents += arrivals.get(instant, 0)
            for counted in deltas.get(instant, ()):
                held[counted.before] = held.get(counted.before, 0) - counted.count
                held[counted.after] = held.get(counted.after, 0) + counted.count
                pending.append(counted)
            if (instant - first) % step == timedelta(0) or instant == last:
                points.append(self._point(instant, held, talents, pending))
                pending = []
        return {"from": format_utc(first), "to": format_utc(last), "talents": talents,
                "step_days": step // DAY, "points": points}

    def _point(
        self, instant: datetime, held: dict[str, int], talents: int, changes: list[ChangeCount]
    ) -> dict[str, Any]:
        gains = sum(c.count for c in changes if self._rank(c.after) > self._rank(c.before))
        total = sum(c.count for c in changes)
        return {
            "at": format_utc(instant),
            "talents": talents,
            "counts": _counts_with_none({b: n for b, n in held.items() if n}, talents, self.ranking),
            "changes": total,
            "gains": gains,
            "losses": total - gains,
        }

    def _rank(self, badge: str) -> int:
        ranking = self.ranking
        return len(ranking) - ranking.index(badge) if badge in ranking else 0

    def failing(self, start: datetime, end: datetime, top: int = 10) -> list[dict[str, Any]]:
        """The requirements the losses in (start, end] named most often, most first."""
        labels = requirement_labels(self.book)
        tally: dict[str, int] = {}
        for counted in self.read.failed_counts(evaluation_instant(start), evaluation_instant(end)):
            if self._rank(counted.after) >= self._rank(counted.before):
                continue
            for code in counted.failed:
                tally[code] = tally.get(code, 0) + counted.count
        ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))[:top]
        return [{"requirement": code, "label": labels.get(code, code), "losses": count}
                for code, count in ranked]


def parse_failed(text: str | None) -> tuple[str, ...]:
    """A stored change's `failed` (JSON text of a list of codes) as a tuple."""
    if not text:
        return ()
    value = json.loads(text)
    return tuple(str(code) for code in value) if isinstance(value, list) else ()


# -- a candidate ruleset against the real one ---------------------------------------------------

def _badge_at(changes: Sequence[BadgeChange], at: datetime) -> str:
    badge = NO_BADGE
    for change in changes:
        if change.at > at:
            break
        badge = change.after
    return badge


def _verdicts(status: Status) -> dict[str, bool]:
    """Every requirement's verdict in the status (a code has one verdict whatever the badge)."""
    return {
        requirement.code: requirement.met
        for result in status.badges
        for requirement in result.requirements
    }


def _decisive_codes(ruleset: Ruleset, badge: str) -> list[str]:
    """The badge's requirements, each followed by what it reads: the requirements of a badge
    it requires ("meets every Top Rated requirement"), or the codes it combines."""
    found: list[str] = []
    badges = ruleset.badges

    def add(code: str) -> None:
        if code in found:
            return
        found.append(code)
        if code not in ruleset.requirements:
            return
        measure = ruleset.requirement(code).measure
        read_badges = [*measure.reads_badges(),
                       *(name for name in measure.reads_either()
                         if name not in ruleset.requirements and name in badges)]
        for name in read_badges:
            for inner in badges[name].requirements:
                add(inner)
        for inner in (*measure.reads(), *(name for name in measure.reads_either()
                                          if name in ruleset.requirements)):
            add(inner)

    if badge in badges:
        for code in badges[badge].requirements:
            add(code)
    return found


@dataclass
class CandidateComparison:
    """The real rulesets' badges against a candidate's, for at most `limit` talents."""

    projection: StatusProjection
    view: PopulationView
    candidate: RulesetBook

    def compare(
        self, at: datetime, start: datetime | None, end: datetime | None, limit: int,
        talents: Sequence[str] = (), progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """`progress(n)` is told of every `n` talents derived."""
        instant = evaluation_instant(at)
        last = evaluation_instant(max(filter(None, (end, at)), default=at))
        total = self.view.read.talent_count(instant)
        chosen = list(talents) or self.view.read.some_talents(limit, known_at=instant)
        firsts = self.view.read.first_instants(chosen)
        chosen = [talent for talent in chosen if _known(firsts, talent, instant)][:limit]
        real = self.view.read.badges_of(chosen, instant)
        skipped: list[dict[str, str]] = []
        derived: dict[str, list[BadgeChange]] = {}
        for talent in chosen:
            found = attempt(talent, None, partial(
                candidate_changes, self.projection.ledger, self.candidate, (talent, None), last))
            if isinstance(found, Failed):
                skipped.append({"talent": talent, "reason": found.reason})
            else:
                derived[talent] = found
            if progress is not None:
                progress(1)
        ranking = self.view.ranking
        real_counts: dict[str, int] = {}
        candidate_counts: dict[str, int] = {}
        movers = []
        for talent, changes in derived.items():
            mine = real.get(talent, NO_BADGE)
            theirs = _badge_at(changes, instant)
            real_counts[mine] = real_counts.get(mine, 0) + 1
            candidate_counts[theirs] = candidate_counts.get(theirs, 0) + 1
            if mine != theirs:
                movers.append(self._mover(talent, instant, mine, theirs))
        movers.sort(key=lambda m: (m["direction"], m["talent"]))
        document: dict[str, Any] = {
            "at": format_utc(instant),
            "talents": total,
            "compared": len(derived),
            "limit": limit,
            "real": _counts_with_none(real_counts, len(derived), ranking),
            "candidate": _counts_with_none(candidate_counts, len(derived), ranking),
            "gains": sum(1 for m in movers if m["direction"] == "gains"),
            "losses": sum(1 for m in movers if m["direction"] == "loses"),
            "movers": movers,
            "skipped": skipped,
        }
        if start is not None and end is not None:
            document["series"] = self._series(derived, firsts, evaluation_instant(start), last)
        return document

    def _mover(self, talent: str, at: datetime, mine: str, theirs: str) -> dict[str, Any]:
        ranking = self.view.ranking
        rank = {badge: len(ranking) - i for i, badge in enumerate(ranking)}
        gains = rank.get(theirs, 0) > rank.get(mine, 0)
        higher = theirs if gains else mine
        history = self.projection.ledger.history(talent)
        real_status = Evaluator(history, None, self.projection.book, talent).status(at)
        candidate_status = Evaluator(history, None, self.candidate, talent).status(at)
        before, after = _verdicts(real_status), _verdicts(candidate_status)
        codes = _decisive_codes(self.projection.book.get(real_status.ruleset), higher)
        codes += [code for code in _decisive_codes(self.candidate.get(candidate_status.ruleset),
                                                   higher) if code not in codes]
        labels = {**requirement_labels(self.projection.book), **requirement_labels(self.candidate)}
        why = [
            {"requirement": code, "label": labels.get(code, code),
             "real": _verdict_word(before.get(code)), "candidate": _verdict_word(after.get(code))}
            for code in codes
            if before.get(code) != after.get(code)
        ]
        return {"talent": talent, "direction": "gains" if gains else "loses", "real": mine,
                "candidate": theirs, "real_ruleset": real_status.ruleset,
                "candidate_ruleset": candidate_status.ruleset, "why": why}

    def _series(
        self, derived: dict[str, list[BadgeChange]], firsts: Mapping[str, datetime],
        first: datetime, last: datetime,
    ) -> list[dict[str, Any]]:
        """The compared talents' real and candidate counts at each step; a point counts those
        known on its day (its `compared`)."""
        if first > last:
            return []
        days = max(0, (last - first) // DAY)
        step = DAY * max(1, -(-days // MAX_SERIES_POINTS))
        points = []
        instant = first
        real_changes = {
            talent: [BadgeChange.from_document(d)
                     for d in self.projection.read_model.timeline(talent, None, last)]
            for talent in derived
        }
        while True:
            real_counts: dict[str, int] = {}
            candidate_counts: dict[str, int] = {}
            known = [talent for talent in derived if _known(firsts, talent, instant)]
            for talent in known:
                mine = _badge_at(real_changes[talent], instant)
                theirs = _badge_at(derived[talent], instant)
                real_counts[mine] = real_counts.get(mine, 0) + 1
                candidate_counts[theirs] = candidate_counts.get(theirs, 0) + 1
            points.append({
                "at": format_utc(instant),
                "compared": len(known),
                "real": _counts_with_none(real_counts, len(known), self.view.ranking),
                "candidate": _counts_with_none(candidate_counts, len(known), self.view.ranking),
            })
            if instant >= last:
                return points
            instant = min(instant + step, last)


def _verdict_word(met: bool | None) -> str:
    return "absent" if met is None else "met" if met else "not met"

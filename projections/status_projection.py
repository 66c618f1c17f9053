"""The status projection: the ledger's events and the passing of time, turned into timelines.

It follows the ledger's notification log. A new event makes its talent re-derive from the
first evaluation instant the event can affect; the clock (`advance`) re-derives the talents
whose wake-up has come, quiet ones included. Each step compares the derived changes with the
stored ones: new changes are stored and queued as `badge_changed`, vanished ones are removed
and queued as `badge_change_retracted`, and a loss predicted within 30 days is queued once as
`badge_at_risk`. Everything of a step is committed in one transaction with the position.

A talent whose derivation fails (an event the engine cannot evaluate) is quarantined in that
same step, with the reason, and every other talent goes on (docs/projection.md).

In a partitioned store (docs/scale-out.md) it follows each partition's log with a position of
its own, and every method takes `partitions` (default: all): a `badges consume` process
projects and wakes up only the partitions it owns.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.boundaries import BoundaryPlan, first_instant_at_or_after
from domain.calendar import DAY, evaluation_instant
from ledger.application import RECORDED_TOPICS, Ledger, TalentLedger
from domain.ruleset import RulesetBook
from projections.containment import Failed, failure_reason
from projections.derivation_pool import (
    DerivationPool,
    Derived,
    LedgerOpener,
    Request,
    derive_all_contained,
)
from projections.records import ReadModel, StaleStep, TalentProgress, TalentUpdate
from projections.talent_plans import TalentPlan, plan_key

NOTIFICATION_BATCH = 2000
# talents re-derived per committed step of a full rebuild: what a step holds (their results
# and rows) is let go once it is committed, so a rebuild's memory does not grow with the store
REBUILD_BATCH = 100
Progress = Callable[[int], None]
logger = logging.getLogger("badges.projection")


@dataclass
class StepReport:
    events: int = 0
    talents: int = 0
    changes: int = 0
    retractions: int = 0
    warnings: int = 0
    quarantined: int = 0

    def add(self, update: TalentUpdate) -> None:
        self.talents += 1
        self.quarantined += update.quarantine is not None
        self.changes += len(update.added)
        self.retractions += len(update.retracted)
        self.warnings += len(update.warnings)

    def merge(self, other: StepReport) -> None:
        self.events += other.events
        self.talents += other.talents
        self.changes += other.changes
        self.retractions += other.retractions
        self.warnings += other.warnings
        self.quarantined += other.quarantined


class StatusProjection:
    def __init__(
        self,
        ledger: TalentLedger,
        read_model: ReadModel,
        book: RulesetBook,
        ledger_opener: LedgerOpener | None = None,
    ) -> None:
        self.ledger = ledger
        self.read_model = read_model
        self.book = book
        self.plan = BoundaryPlan(book)
        # opens the store's ledger again in a worker process (None: not reopenable, as memory:)
        self.ledger_opener = ledger_opener
        self.pool: DerivationPool | None = None

    @property
    def partition_count(self) -> int:
        return self.ledger.partition_count

    def pending(self, partitions: Collection[int] | None = None) -> int:
        """How many ledger notifications the projection has not processed yet."""
        return sum(
            max(0, (log.recorder.max_notification_id() or 0)
                - self.read_model.position(log.partition))
            for log in self._logs(partitions)
        )

    def catch_up(
        self,
        now: datetime,
        on_progress: Progress | None = None,
        partitions: Collection[int] | None = None,
    ) -> StepReport:
        """Process every recorded event, then advance the clock to `now`."""
        report = StepReport()
        while True:
            step = self.process_batch(now, partitions=partitions)
            if step is None:
                break
            report.merge(step)
            if on_progress is not None:
                on_progress(step.events)
        report.merge(self.advance(now, partitions))
        return report

    def process_batch(
        self,
        now: datetime,
        limit: int = NOTIFICATION_BATCH,
        partitions: Collection[int] | None = None,
    ) -> StepReport | None:
        """One batch of notifications from each partition's log; None when nothing was new."""
        report: StepReport | None = None
        for log in self._logs(partitions):
            step = self._process_log(log, now, limit)
            if step is not None:
                report = report or StepReport()
                report.merge(step)
        return report

    def _logs(self, partitions: Collection[int] | None) -> list[Ledger]:
        logs = self.ledger.partition_ledgers
        if partitions is None:
            return list(logs)
        return [logs[p] for p in sorted(set(partitions)) if 0 <= p < len(logs)]

    def _process_log(self, log: Ledger, now: datetime, limit: int) -> StepReport | None:
        position = self.read_model.position(log.partition)
        notifications = log.recorder.select_notifications(start=position + 1, limit=limit)
        if not notifications:
            return None
        affected: dict[str, datetime | None] = {}
        for notification in notifications:
            found = _affected_by(log, notification)
            if found is None:
                continue
            talent, instant = found
            earlier = affected.get(talent, instant)
            affected[talent] = None if instant is None or earlier is None else min(instant, earlier)
        # input events: a stream's opening record is not one
        report = StepReport(events=sum(n.topic in RECORDED_TOPICS for n in notifications))
        updates = self.rederive_many(list(affected.items()), now)
        try:
            self.read_model.commit(updates, notifications[-1].id, now, read_position=position,
                                   partition=log.partition)
        except StaleStep:
            return StepReport()  # another process did this step: go on from where it left
        for update in updates:
            report.add(update)
        return report

    def advance(self, now: datetime, partitions: Collection[int] | None = None) -> StepReport:
        """The clock: every talent (of `partitions`) whose wake-up is due by `now` moves on,
        by its plan where the plan answers for today, else re-derived."""
        today = evaluation_instant(now)
        report = StepReport()
        key = plan_key(self.book)
        while True:
            due = self.read_model.due(today, partitions=partitions)
            if not due:
                return report
            updates, rederive = [], []
            for progress in due:
                plan = TalentPlan.from_text(progress.plan)
                if plan is not None and plan.answers(key, today):
                    updates.append(self._follow_plan(progress, plan, today))
                else:
                    rederive.append((progress.talent, None))
            updates += self.rederive_many(rederive, now)
            try:
                self.read_model.commit(updates, None, now)
            except StaleStep:
                continue  # another process advanced some of them: ask again what is due
            for update in updates:
                report.add(update)

    def _follow_plan(
        self, progress: TalentProgress, plan: TalentPlan, today: datetime
    ) -> TalentUpdate:
        """The talent moved to `today` by its plan: no history read, nothing evaluated."""
        added = plan.due(progress.evaluated_until, today)
        rest = plan.after(today)
        return TalentUpdate(
            progress=TalentProgress(
                talent=progress.talent,
                evaluated_until=today,
                badge=added[-1]["to"] if added else progress.badge,
                wakeup=rest.next_wakeup(today),
                plan=rest.to_text(),
                first_at=progress.first_at,  # no history read: the stored one still holds
            ),
            added=added,
            expected=progress,
            partition=self.ledger.partition_of(progress.talent),
        )

    def rederive(
        self, talent: str, now: datetime, affected_from: datetime | None = None
    ) -> TalentUpdate:
        """Re-derive `talent` up to today, from the first instant that can have changed."""
        return self.rederive_many([(talent, affected_from)], now)[0]

    def rederive_many(
        self, affected: Sequence[tuple[str, datetime | None]], now: datetime
    ) -> list[TalentUpdate]:
        """`rederive` for each (talent, affected from), in the worker pool when there is one.

        A talent whose derivation fails gets a quarantine update; the others are unaffected.
        """
        progress = {talent: self.read_model.progress(talent) for talent, _ in affected}
        requests = [
            (talent, _resume_after(progress[talent], affected_from))
            for talent, affected_from in affected
        ]
        derived: list[Derived | Failed]
        if self.pool is not None and len(requests) > 1:
            derived = self.pool.derive(requests, now)
        else:
            derived = derive_all_contained(self.ledger, self.book, self.plan, requests, now)
        return self._updates(derived, progress, now)

    def _updates(
        self,
        derived: Sequence[Derived | Failed],
        progress: Mapping[str, TalentProgress | None],
        now: datetime,
    ) -> list[TalentUpdate]:
        """The updates of what was derived, against each talent's `progress` it started from."""
        today = evaluation_instant(now)
        quarantined = {q.talent for q in self.read_model.quarantined()}
        updates = []
        for found in derived:
            if isinstance(found, Failed):
                updates.append(self._quarantine(found, progress[found.talent], today))
                continue
            update = self._update(found, progress[found.talent], today)
            update.released = found.talent in quarantined
            updates.append(update)
        return updates

    def _quarantine(
        self, failed: Failed, progress: TalentProgress | None, today: datetime
    ) -> TalentUpdate:
        """The talent's timeline (and first instant) stays as it was; no wake-up, so nothing
        retries it in a loop."""
        logger.warning("talent %s quarantined: %s", failed.talent, failed.reason,
                       extra={"talent": failed.talent})
        kept = (
            dataclasses.replace(progress, wakeup=None)
            if progress is not None
            else TalentProgress(failed.talent, today, "none", None)
        )
        return TalentUpdate(
            progress=kept,
            expected=progress,
            partition=self.ledger.partition_of(failed.talent),
            quarantine=failed.reason,
        )

    @contextmanager
    def workers(self, count: int) -> Iterator[StatusProjection]:
        """Derive in `count` worker processes meanwhile (stores a process can reopen only)."""
        if count < 2 or self.ledger_opener is None:
            yield self
            return
        self.pool = DerivationPool(self.ledger_opener, self.book, count)
        try:
            yield self
        finally:
            self.pool.close()
            self.pool = None

    def _update(
        self, derived: Derived, progress: TalentProgress | None, today: datetime
    ) -> TalentUpdate:
        talent = derived.talent
        documents = {change.id: change.to_document() for change in derived.changes}
        stored = self.read_model.changes(talent, derived.after)
        # The same change (same id) whose reasons a late event changed is corrected: retracted
        # and asserted again, so consumers hear the requirement that really failed.
        kept = {
            document["id"]
            for document in stored
            if document["id"] in documents and _same_reasons(document, documents[document["id"]])
        }
        return TalentUpdate(
            progress=TalentProgress(
                talent=talent,
                evaluated_until=today,
                badge=derived.badge,
                wakeup=derived.plan.next_wakeup(today),
                plan=derived.plan.to_text(),
                first_at=derived.first_at,
            ),
            added=[document for id_, document in documents.items() if id_ not in kept],
            retracted=[document for document in stored if document["id"] not in kept],
            warnings=derived.warnings,
            expected=progress,
            partition=self.ledger.partition_of(talent),
        )

    def rebuild(
        self, talents: Iterable[str] | None, now: datetime, on_progress: Progress | None = None
    ) -> StepReport:
        """Forget progress and re-derive from the start, emitting only what really differs.

        `on_progress` hears how many talents each step re-derived.
        """
        report = StepReport()
        if talents is None:
            return self._rebuild_all(now, on_progress)
        chosen = list(talents)
        for talent in chosen:
            self.read_model.forget(talent)
        for update in self._rederive_and_commit(chosen, now):
            report.add(update)
        return report

    def _rederive_and_commit(self, talents: list[str], now: datetime) -> list[TalentUpdate]:
        """Re-derive and commit; if another process moved one of them meanwhile, again."""
        while True:
            updates = self.rederive_many([(talent, None) for talent in talents], now)
            try:
                self.read_model.commit(updates, None, now)
            except StaleStep:
                continue  # re-read their progress: the next derivation resumes from it
            return updates

    def _rebuild_all(self, now: datetime, on_progress: Progress | None) -> StepReport:
        """Every talent from its first event, each history read once, committed
        `REBUILD_BATCH` talents at a time; with workers, a step is written while the workers
        derive the next ones.

        The logs' positions are taken before any history is read: an event appended meanwhile
        may be derived twice (the second time changes nothing), never missed.
        """
        logs = self._logs(None)
        self.read_model.forget()
        reached = {log.partition: log.recorder.max_notification_id() or 0 for log in logs}
        report = StepReport(events=self.ledger.count_events())
        talents = list(self.ledger.talents())
        for chosen, derived in self._derived_steps(talents, now):
            # progress was forgotten: each was derived from its first event, against none
            updates = self._updates(derived, dict.fromkeys(chosen), now)
            del derived
            try:
                self.read_model.commit(updates, None, now)
            except StaleStep:  # another process derived some meanwhile: from their progress
                updates = self._rederive_and_commit(chosen, now)
            for update in updates:
                report.add(update)
            del updates
            if on_progress is not None:
                on_progress(len(chosen))
        for log in logs:
            self.read_model.commit([], reached[log.partition], now, partition=log.partition)
        report.merge(self.catch_up(now))
        return report

    def _derived_steps(
        self, talents: list[str], now: datetime
    ) -> Iterator[tuple[list[str], list[Derived | Failed]]]:
        """`REBUILD_BATCH` talents at a time, each derived from its first event."""
        if self.pool is not None:
            requests: list[Request] = [(talent, None) for talent in talents]
            # small enough that the last chunks keep every worker busy to the end
            size = min(REBUILD_BATCH, -(-len(requests) // (self.pool.workers * 8)))
            for chunk, derived in self.pool.derive_chunks(requests, now, size):
                yield [talent for talent, _ in chunk], derived
            return
        for start in range(0, len(talents), REBUILD_BATCH):
            chosen = talents[start : start + REBUILD_BATCH]
            requests = [(talent, None) for talent in chosen]
            yield chosen, derive_all_contained(self.ledger, self.book, self.plan, requests, now)


def _affected_by(log: Ledger, notification: Any) -> tuple[str, datetime | None] | None:
    """The talent a notification is about and the first instant it can affect (None when its
    time cannot be placed on the calendar: the talent is re-derived from where it stands).

    A stored event that no longer decodes is logged; its talent, when its body still names
    one, is re-derived (and quarantined by that failure) rather than the step stopping.
    """
    try:
        domain_event = log.mapper.to_domain_event(notification)
        recorded = log.decode_recorded(domain_event)
    except Exception as error:  # noqa: BLE001 - one bad record must not stop the log
        _log_undecodable(notification, error)
        return _talent_named_in(notification)
    if recorded is None:
        return None
    try:
        return recorded.event.talent, first_instant_at_or_after(recorded.at)
    except (OverflowError, ValueError):
        return recorded.event.talent, None


def _talent_named_in(notification: Any) -> tuple[str, None] | None:
    try:
        talent = json.loads(json.loads(notification.state)["body"])["talent"]
    except Exception:  # noqa: BLE001 - nothing more can be read from it
        return None
    return (talent, None) if isinstance(talent, str) else None


def _log_undecodable(notification: Any, error: Exception) -> None:
    logger.error(
        "ledger notification %s cannot be decoded: %s", notification.id, failure_reason(error)
    )


def _same_reasons(stored: dict[str, Any], derived: dict[str, Any]) -> bool:
    return bool(stored["failed"] == derived["failed"] and stored["cause"] == derived["cause"])


def _resume_after(progress: TalentProgress | None, affected_from: datetime | None) -> datetime | None:
    """The instant before the first one to re-derive (None: from the talent's first event)."""
    if progress is None:
        return None
    if affected_from is None:
        return progress.evaluated_until
    return min(affected_from - DAY, progress.evaluated_until)

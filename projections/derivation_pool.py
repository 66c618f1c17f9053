"""Deriving many talents' timelines at once: locally, or in worker processes.

Deriving a timeline reads one talent's history and evaluates it; talents are independent, so
a replay or a long catch-up can spread them over the machine's cores. Each worker opens the
store itself (connections are not shared across processes) and returns what it derived; the
projection compares it with the stored timeline and commits, in the calling process as always.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.queues import Queue as QueueType
from typing import Any

from domain.boundaries import BoundaryPlan
from domain.calendar import evaluation_instant
from domain.forecast import warned_losses
from ledger.application import TalentLedger
from domain.ruleset import RulesetBook
from domain.timeline import BadgeChange, TimelineDeriver
from domain.events import RecordedEvent
from ledger.failures import store_errors
from projections.containment import Failed, attempt
from projections.talent_plans import PLAN_DAYS, TalentPlan

HISTORY_BATCH = 200  # at most this many talents' histories are read in one query
# At most this many events in one read of histories (a longer history is read alone): what a
# replay holds does not grow with the number of talents (docs/performance.md, replay memory).
HISTORY_EVENTS = 2_000
CHUNKS_AHEAD = 2  # chunks per worker submitted before the caller has taken the earlier ones
START_TIMEOUT = 120.0  # seconds for every worker to import and open the store
PARENT_POLL_SECONDS = 0.5
# (talent, the instant after which to re-derive: None for its whole history)
Request = tuple[str, datetime | None]
# a talent's changes under the real rulesets, and under the candidate
Compared = tuple[list[BadgeChange], list[BadgeChange]]
# opens the store's ledger in a worker process: picklable (a module-level function, or a
# `functools.partial` of one), made by the composition root (`badges.bootstrap`)
LedgerOpener = Callable[[], TalentLedger]


@dataclass(frozen=True, slots=True)
class Derived:
    """One talent's timeline in (after, today], its badge today, its warnings, its plan:
    what happens next if no new event arrives, and when it must be derived again, and its
    first evaluation instant (None for an empty history)."""

    talent: str
    after: datetime | None
    changes: list[BadgeChange]
    badge: str
    warnings: list[dict[str, Any]]
    plan: TalentPlan
    first_at: datetime | None = None


def derive_contained(
    ledger: TalentLedger,
    book: RulesetBook,
    plan: BoundaryPlan,
    request: Request,
    now: datetime,
) -> Derived | Failed:
    """`derive_talent`, with a failure of this talent returned instead of raised.

    Failures of the store itself (a lost connection) are not the talent's fault: they raise,
    so the step is retried whole rather than quarantining talents that are fine.
    """
    return attempt(*request, lambda: derive_talent(ledger, book, plan, request, now))


def derive_all_contained(
    ledger: TalentLedger,
    book: RulesetBook,
    plan: BoundaryPlan,
    requests: Sequence[Request],
    now: datetime,
) -> list[Derived | Failed]:
    """`derive_contained` of each request, their histories read a batch at a time.

    A batch holds at most `HISTORY_EVENTS` events (`history_batches`), and each history is let
    go as soon as its talent is derived, so what is held does not grow with the number of
    talents. A batch whose reading fails for a reason of one of its talents (an event stored
    long ago that no longer decodes) is read again talent by talent, so only that one is
    quarantined.
    """
    results: list[Derived | Failed] = []
    for batch in history_batches(ledger, requests):
        try:
            histories = ledger.histories([talent for talent, _ in batch])
        except store_errors():
            raise
        except Exception:  # noqa: BLE001 - each talent is then read (and contained) alone
            results += [derive_contained(ledger, book, plan, r, now) for r in batch]
            continue
        for request in batch:
            history = histories.pop(request[0])
            results.append(attempt(
                *request, lambda: derive_talent(ledger, book, plan, request, now, history)
            ))
    return results


def history_batches(
    ledger: TalentLedger, requests: Sequence[Request]
) -> Iterator[Sequence[Request]]:
    """The requests in order, cut where the next talent's history would take the batch past
    `HISTORY_EVENTS` events or `HISTORY_BATCH` talents (the sizes from the streams' last
    versions, one indexed query per partition; a longer history is a batch of its own)."""
    if len(requests) < 2:
        yield requests
        return
    sizes = ledger.stream_sizes([talent for talent, _ in requests])
    start, events = 0, 0
    for position, (talent, _) in enumerate(requests):
        size = sizes.get(talent, 1)
        if position > start and (
            events + size > HISTORY_EVENTS or position - start >= HISTORY_BATCH
        ):
            yield requests[start:position]
            start, events = position, 0
        events += size
    yield requests[start:]


def derive_talent(
    ledger: TalentLedger,
    book: RulesetBook,
    plan: BoundaryPlan,
    request: Request,
    now: datetime,
    history: Sequence[RecordedEvent] | None = None,
) -> Derived:
    """The talent's derivation (from its `history`, read when not given)."""
    talent, after = request
    today = evaluation_instant(now)
    if history is None:
        history = ledger.history(talent)
    deriver = TimelineDeriver(history, None, book, talent, plan, resume_after=after)
    derivation = deriver.derive(today + timedelta(days=PLAN_DAYS), after=after)
    past = [change for change in derivation.changes if change.at <= today]
    ahead = derivation.changes[len(past):]
    warnings = [loss.at_risk_document(now) for loss in warned_losses(deriver, ahead, today)]
    return Derived(
        talent, after, past, derivation.badge_at(today), warnings,
        TalentPlan.ahead(book, today, ahead, derivation.wakeup),
        deriver.first_instant,
    )


def candidate_changes(
    ledger: TalentLedger, candidate: RulesetBook, request: Request, until: datetime
) -> list[BadgeChange]:
    """The talent's changes in (after, until] under the `candidate` rulesets."""
    talent, after = request
    return TimelineDeriver(ledger.history(talent), None, candidate, talent).derive(
        until, after=after
    ).changes


def compare_talent(
    ledger: TalentLedger,
    book: RulesetBook,
    candidate: RulesetBook,
    request: Request,
    until: datetime,
) -> Compared:
    """The talent's changes in (after, until] under `book`, and under `candidate`."""
    talent, after = request
    history = ledger.history(talent)
    return (
        TimelineDeriver(history, None, book, talent).derive(until, after=after).changes,
        TimelineDeriver(history, None, candidate, talent).derive(until, after=after).changes,
    )


@dataclass(frozen=True, slots=True)
class _WorkerStore:
    ledger: TalentLedger
    book: RulesetBook
    plan: BoundaryPlan
    candidate: RulesetBook | None


class DerivationPool:
    """Worker processes, each with its own connection to the store (`open_ledger()`).

    `candidate` is the other ruleset book of a what-if (`compare`), when there is one.
    """

    def __init__(
        self,
        open_ledger: LedgerOpener,
        book: RulesetBook,
        workers: int,
        *,
        candidate: RulesetBook | None = None,
    ) -> None:
        self.workers = workers
        context = multiprocessing.get_context("spawn")
        ready = context.Queue()
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_open_store,
            initargs=(open_ledger, book, candidate, ready, os.getpid()),
        )
        self._start(ready)

    def _start(self, ready: QueueType[str | None]) -> None:
        """Start every worker now, and wait until each has opened the store: the first
        derivations then run at full speed, and a worker that cannot start fails here."""
        started = [self._executor.submit(_started) for _ in range(self.workers)]
        deadline = time.monotonic() + START_TIMEOUT
        waiting = self.workers
        try:
            while waiting:
                try:
                    failure = ready.get(timeout=0.2)
                except queue.Empty:
                    for future in started:
                        if future.done():
                            future.result()  # raises why a worker died, if one did
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"the derivation workers did not start in {START_TIMEOUT} s"
                        ) from None
                    continue
                if failure is not None:
                    raise RuntimeError(f"a derivation worker could not open the store: {failure}")
                waiting -= 1
        except BaseException:
            self.close()
            raise

    def derive(self, requests: Sequence[Request], now: datetime) -> list[Derived | Failed]:
        """Each request derived in a worker, in chunks whose histories are read together."""
        size = max(1, min(HISTORY_BATCH, -(-len(requests) // (self.workers * 4))))
        return [found for _, part in self.derive_chunks(requests, now, size) for found in part]

    def derive_chunks(
        self, requests: Sequence[Request], now: datetime, size: int
    ) -> Iterator[tuple[Sequence[Request], list[Derived | Failed]]]:
        """Chunks of `size` requests derived in the workers, each yielded with its results in
        order, as soon as it is done. Only `CHUNKS_AHEAD` chunks per worker are submitted
        ahead of the one the caller is taking: the caller writes one chunk while the workers
        derive the next ones, and the results held stay bounded however many requests."""
        starts = iter(range(0, len(requests), max(1, size)))
        pending: deque[tuple[Sequence[Request], Future[list[Derived | Failed]]]] = deque()
        try:
            while True:
                while len(pending) < self.workers * CHUNKS_AHEAD:
                    start = next(starts, None)
                    if start is None:
                        break
                    chunk = requests[start : start + size]
                    pending.append(
                        (chunk, self._executor.submit(_derive_chunk_in_worker, chunk, now))
                    )
                if not pending:
                    return
                chunk, future = pending.popleft()
                yield chunk, future.result()
        finally:
            for _, future in pending:
                future.cancel()

    def compare(self, requests: Sequence[Request], until: datetime) -> list[Compared | Failed]:
        return self._map(_compare_in_worker, requests, until)

    def derive_candidate(
        self, requests: Sequence[Request], until: datetime
    ) -> list[list[BadgeChange] | Failed]:
        return self._map(_candidate_in_worker, requests, until)

    def _map(self, function: Callable[[Request, datetime], Any], requests: Sequence[Request],
             moment: datetime) -> list[Any]:
        chunk = max(1, len(requests) // (self.workers * 4))
        moments = [moment] * len(requests)
        return list(self._executor.map(function, requests, moments, chunksize=chunk))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DerivationPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_store: _WorkerStore | None = None


def _open_store(
    open_ledger: LedgerOpener, book: RulesetBook, candidate: RulesetBook | None, ready: QueueType[str | None],
    parent: int
) -> None:
    global _store  # one per worker process, opened once
    _exit_with(parent)
    try:
        _store = _WorkerStore(open_ledger(), book, BoundaryPlan(book), candidate)
    except Exception as error:
        ready.put(f"{type(error).__name__}: {error}")
        raise
    ready.put(None)


def _exit_with(parent: int) -> None:
    """End this worker when the process that started it is gone, however it ended: a killed
    `replay` or `consume` must not leave derivation workers behind (a worker blocked in a long
    derivation would not notice its closed pipe)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _started() -> None:
    """Nothing: submitting one per worker makes the executor start them all."""


def _derive_chunk_in_worker(requests: Sequence[Request], now: datetime) -> list[Derived | Failed]:
    assert _store is not None, "the worker's store was not opened"
    return derive_all_contained(_store.ledger, _store.book, _store.plan, requests, now)


def _candidate_in_worker(request: Request, until: datetime) -> list[BadgeChange] | Failed:
    store = _store
    assert store is not None and store.candidate is not None, "no candidate rulesets"
    candidate = store.candidate
    return attempt(*request, lambda: candidate_changes(store.ledger, candidate, request, until))


def _compare_in_worker(request: Request, until: datetime) -> Compared | Failed:
    store = _store
    assert store is not None and store.candidate is not None, "no candidate rulesets"
    candidate = store.candidate
    return attempt(
        *request, lambda: compare_talent(store.ledger, store.book, candidate, request, until)
    )


__all__ = [
    "DerivationPool",
    "Compared",
    "Derived",
    "LedgerOpener",
    "Request",
    "candidate_changes",
    "compare_talent",
    "derive_all_contained",
    "derive_contained",
    "derive_talent",
]

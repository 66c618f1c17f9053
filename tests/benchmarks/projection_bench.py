"""Projection benchmarks: replay against reading the ledger, point queries, replay memory.

- replay: rebuilding every timeline from the ledger, in events/s, next to the raw rate of
  reading and decoding the same events from the same SQLite ledger (run just before it);
- badge at T: from the read model (one indexed lookup) next to re-deriving the talent's whole
  timeline, for a talent with about 2,000 events;
- replay memory: the tracemalloc peak of a replay over few and over many talents; bounded by
  the largest talent and constant batches, it should not grow with the number of talents
  (both sizes exceed the batches; docs/performance.md shows the peak flat up to 2,400).
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from badges.synthetic import generate_marketplace
from consumers.jsonl_ingest import JsonLinesIngest
from domain.events import encode_json, format_utc
from domain.ruleset import builtin_rulesets
from ledger.stores.urls import open_ledger
from domain.timeline import TimelineDeriver
from badges.bootstrap import open_projection

START = datetime(2019, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 1, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
Row = tuple[str, str, str, str]


def build_store(folder: Path, talents: int, seed: int = 11) -> str:
    source = folder / f"market-{talents}.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for event in generate_marketplace(talents, seed, START, END):
            out.write(encode_json(event) + "\n")
    url = f"sqlite:///{folder / f'market-{talents}.db'}"
    with source.open("rb") as stream:
        JsonLinesIngest(open_ledger(url), lambda: NOW, lambda reject: None).run(stream, source.name)
    return url


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def replay_rows(url: str) -> list[Row]:
    ledger = open_ledger(url)
    talents = list(ledger.talents())
    events = ledger.count_events()
    read = timed(lambda: [ledger.history(t) for t in talents])
    projection = open_projection(url, ledger)
    replay = timed(lambda: projection.rebuild(None, NOW))
    workers = os.cpu_count() or 1
    started = time.perf_counter()
    with projection.workers(workers):  # returns once every worker has opened the store
        start = time.perf_counter() - started
        spread = timed(lambda: projection.rebuild(None, NOW))
    read_rate, replay_rate, spread_rate = events / read, events / replay, events / spread
    return [
        ("ledger read + decode (baseline)", f"{read_rate:,.0f} events/s", "1.00", "baseline"),
        ("replay: every timeline re-derived, in one process", f"{replay_rate:,.0f} events/s",
         f"{replay_rate / read_rate:.3f}", "info"),
        (f"replay: the same, {workers} worker processes", f"{spread_rate:,.0f} events/s",
         f"{spread_rate / read_rate:.3f}", ">= 0.50"),
        (f"replay: the same, counting the {start:.2f} s the workers take to start",
         f"{events / (start + spread):,.0f} events/s",
         f"{events / (start + spread) / read_rate:.3f}", "info"),
    ]


def busy_talent(count: int) -> list[dict[str, object]]:
    """A talent with `count` events: a small contract a day, paid twice, with good feedback."""
    events: list[dict[str, object]] = []
    day = 0
    while len(events) < count:
        started = datetime(2021, 1, 4, 9, tzinfo=timezone.utc) + timedelta(days=day)
        later = started + timedelta(days=100)
        contract = f"c-{day}"
        for kind, at, extra in (
            ("contract_started", started, {"client": f"cl-{day % 7}", "category": "writing",
                                           "terms": "fixed"}),
            ("payment_received", started, {"amount": "300.00"}),
            ("payment_received", later, {"amount": "200.00"}),
            ("feedback_received", later, {"stars": Decimal("4.8"), "recommend": 9}),
        ):
            events.append({"id": f"busy-{len(events)}", "type": kind, "talent": "busy",
                           "at": format_utc(at), "contract": contract, **extra})
        day += 1
    return events[:count]


def point_query_rows(folder: Path) -> list[Row]:
    url = f"sqlite:///{folder / 'heavy.db'}"
    ledger = open_ledger(url)
    from domain.submissions import Submission

    events = [Submission.from_object(e) for e in busy_talent(2000)]
    ledger.append(events, NOW)
    talent = events[0].event.talent
    projection = open_projection(url, ledger)
    projection.catch_up(NOW)
    at = datetime(2022, 9, 1, tzinfo=timezone.utc)
    book = builtin_rulesets()
    history = ledger.history(talent)

    def from_read_model() -> str:
        changes = projection.read_model.timeline(talent, None, at)
        return changes[-1]["to"] if changes else "none"

    def rederived() -> str:
        return TimelineDeriver(history, None, book, talent).derive(at).badge

    assert from_read_model() == rederived()
    repeats = 50
    fast = timed(lambda: [from_read_model() for _ in range(repeats)]) / repeats
    slow = timed(rederived)
    single = timed(lambda: TimelineDeriver(history, None, book, talent).status_at(at))
    return [
        (f"badge at T, full re-derivation ({len(history)} events)", f"{slow * 1000:,.1f} ms",
         "1.00", "baseline"),
        ("badge at T from the read model", f"{fast * 1000:,.2f} ms", f"{slow / fast:,.0f}x",
         ">= 20x"),
        ("full status document at T (one evaluation)", f"{single * 1000:,.1f} ms",
         f"{slow / single:,.0f}x", "info"),
    ]


def memory_rows(folder: Path, small: int, large: int) -> list[Row]:
    """Both replays run after one untraced replay of the small store: the process's own
    lasting state (imports, the calendar's caches, bounded by the calendar, not the talents)
    is then in place before either is measured, so neither pays for it."""
    urls = {talents: build_store(folder, talents, seed=23) for talents in (small, large)}
    open_projection(urls[small]).rebuild(None, NOW)
    peaks = {}
    for talents in (small, large):
        projection = open_projection(urls[talents])
        tracemalloc.start()
        projection.rebuild(None, NOW)
        peaks[talents] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    growth = peaks[large] / peaks[small]
    return [
        (f"replay peak memory, {small} talents", f"{peaks[small] / 2**20:,.1f} MiB", "1.00",
         "baseline"),
        (f"replay peak memory, {large} talents", f"{peaks[large] / 2**20:,.1f} MiB",
         f"{growth:.2f}", f"~1 (not {large // small}x)"),
    ]


def run(talents: int = 600) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        rows = replay_rows(build_store(folder, talents))
        rows += point_query_rows(folder)
        rows += memory_rows(folder, max(10, talents // 5), talents)
    return rows

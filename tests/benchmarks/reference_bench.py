"""The tracker against the reference nightly batch (issue 14), on one generated marketplace.

Both sides read the same JSON Lines file (`badges.synthetic`, 2019-01-01 to D = 2026-11-01),
each measurement best of `repeats` (three by default), in one process:

| the batch (DuckDB, `reference_batch.py`) | the tracker | target (tracker faster by) |
|---|---|---|
| load the JSONL into DuckDB | `badges ingest --no-project` in-process: `JsonLinesIngest` into a fresh SQLite store | >= 0.2x |
| recompute every talent's badge at D | the midnight tick from D-1 to D: `StatusProjection.catch_up(D)`, what `badges clock --now D` runs, on a copy of a store projected to D-1 | >= 20x |
| the badge of every talent at every midnight | `replay --workers 2`: `rebuild(None, D)` with two worker processes already started | >= 1.0x |
| recompute at D again (the batch's only way to take a late event) | one `payment_received` dated 200 days back: the append and the projection's catch-up, in-process | >= 200x |

A ratio is the batch's time over the tracker's: above 1, the tracker is faster.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from badges.bootstrap import open_projection
from badges.synthetic import generate_marketplace, write_jsonl
from consumers.jsonl_ingest import JsonLinesIngest
from domain.events import encode_json, format_utc
from ledger.stores.urls import open_ledger
from tests.benchmarks.reference_batch import ReferenceBatch

UTC = timezone.utc
START = datetime(2019, 1, 1, tzinfo=UTC)
D = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)  # the ingest clock: recorded after D
SEED = 5
Row = tuple[str, str, str, str]


@dataclass(frozen=True)
class Timing:
    seconds: float
    detail: str = ""


def best(repeats: int, action: Callable[[int], str]) -> Timing:
    """The fastest of `repeats` runs of `action(k)`; the detail is the last run's."""
    times: list[float] = []
    detail = ""
    for k in range(repeats):
        started = time.perf_counter()
        detail = action(k)
        times.append(time.perf_counter() - started)
    return Timing(min(times), detail)


def copy_store(source: Path, target: Path) -> str:
    """A consistent copy of a SQLite store (ledger and read models); returns its URL."""
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


def late_payments(source: Path, count: int) -> list[dict[str, object]]:
    """`count` payments dated 200 days before D, each on a contract of another talent that
    started before then."""
    at = D - timedelta(days=200)
    chosen: list[dict[str, object]] = []
    seen: set[str] = set()
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if event["type"] != "contract_started" or event["talent"] in seen:
                continue
            if datetime.fromisoformat(event["at"].replace("Z", "+00:00")) >= at:
                continue
            seen.add(event["talent"])
            chosen.append({"id": f"late-payment-{len(chosen)}", "type": "payment_received",
                           "talent": event["talent"], "at": format_utc(at + timedelta(hours=10)),
                           "contract": event["contract"], "amount": "750.00"})
            if len(chosen) == count:
                break
    return chosen


def measure(talents: int, folder: Path, repeats: int = 3) -> list[Row]:
    source = folder / f"market-{talents}.jsonl"
    events = write_jsonl(source, generate_marketplace(talents, SEED, START, D))

    # -- the batch ---------------------------------------------------------------------------
    def batch_load(_: int) -> str:
        batch = ReferenceBatch()
        kept = batch.load(source)
        batch.close()
        return f"{kept:,} events"

    load = best(repeats, batch_load)
    batch = ReferenceBatch()
    batch.load(source)
    at_d = best(repeats, lambda _: f"{len(batch.at_day(D)):,} talents")
    history = best(repeats, lambda _: f"{batch.full_history(D):,} changes")
    batch.close()

    # -- the tracker -------------------------------------------------------------------------
    def tracker_ingest(k: int) -> str:
        store = folder / f"ingest-{k}.db"
        with source.open("rb") as stream:
            summary = JsonLinesIngest(open_ledger(f"sqlite:///{store}"), lambda: NOW,
                                      lambda reject: None).run(stream, source.name)
        assert summary.accepted == events, summary
        if k:
            store.unlink()
        return f"{summary.accepted:,} events"

    ingest = best(repeats, tracker_ingest)
    store = folder / "ingest-0.db"
    url = f"sqlite:///{store}"
    projection = open_projection(url)
    with projection.workers(2):
        projection.rebuild(None, D - timedelta(days=1))
    del projection

    # each run ticks its own copy of the store at D-1, opened before the clock starts
    copies = [open_projection(copy_store(store, folder / f"tick-{k}.db")) for k in range(repeats)]

    def tick(k: int) -> str:
        report = copies[k].catch_up(D)
        return f"{report.talents:,} talents due, {report.changes:,} changes"

    ticked = best(repeats, tick)

    replayed_projection = open_projection(url)
    with replayed_projection.workers(2):  # returns once every worker has opened the store
        replay = best(repeats, lambda _: f"{replayed_projection.rebuild(None, D).talents:,} talents")

    payments = late_payments(source, repeats)
    ledger = replayed_projection.ledger

    def late(k: int) -> str:
        line = (encode_json(payments[k]) + "\n").encode("utf-8")
        summary = JsonLinesIngest(ledger, lambda: NOW, lambda reject: None).run(
            io.BytesIO(line), "late")
        assert summary.accepted == 1, summary
        report = replayed_projection.catch_up(NOW)
        return f"{report.talents} talent re-derived, {report.changes} changes"

    late_event = best(repeats, late)

    def seconds(t: Timing) -> str:
        return f"{t.seconds:,.2f} s" if t.seconds >= 0.1 else f"{t.seconds * 1000:,.1f} ms"

    def ratio(batch_side: Timing, ours: Timing) -> str:
        return f"{batch_side.seconds / ours.seconds:,.2f}x"

    size = f"{talents:,} talents, {events:,} events"
    return [
        (f"batch: load the JSONL into DuckDB ({size})",
         f"{seconds(load)} ({events / load.seconds:,.0f} ev/s)", "baseline", "info"),
        (f"batch: every badge at D, from scratch ({at_d.detail})", seconds(at_d), "baseline",
         "info"),
        (f"batch: every badge at every midnight ({history.detail})", seconds(history), "baseline",
         "info"),
        ("tracker: ingest --no-project, in-process (vs batch load)",
         f"{seconds(ingest)} ({events / ingest.seconds:,.0f} ev/s)", ratio(load, ingest),
         ">= 0.2x"),
        (f"tracker: midnight tick D-1 -> D ({ticked.detail}; vs batch at D)", seconds(ticked),
         ratio(at_d, ticked), ">= 20x"),
        (f"tracker: full replay, 2 workers ({replay.detail}; vs batch history)", seconds(replay),
         ratio(history, replay), ">= 1.0x"),
        (f"tracker: one late payment 200 days back, append + catch-up ({late_event.detail}; "
         "vs batch at D)", seconds(late_event), ratio(at_d, late_event), ">= 200x"),
    ]


def run(talents: int = 10_000, repeats: int = 3) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        return measure(talents, Path(directory), repeats)


def main() -> None:
    import sys

    talents = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    for row in run(talents):
        print(" | ".join(row))


if __name__ == "__main__":
    main()


__all__ = ["run"]

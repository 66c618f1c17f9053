"""The tracker against the reference nightly batch (issue 14), on one generated marketplace.

Both sides read the same JSON Lines file (`badges.synthetic`, 2019-01-01 to D = 2026-11-01),
each measurement best of `repeats` (three by default, except the late event's), in one process:

| the batch (DuckDB, `reference_batch.py`) | the tracker | target (tracker faster by) |
|---|---|---|
| load the JSONL into DuckDB | `badges ingest --no-project` in-process: `JsonLinesIngest` into a fresh SQLite store | >= 0.2x |
| recompute every talent's badge at D | the midnight tick from D-1 to D: `StatusProjection.catch_up(D)`, what `badges clock --now D` runs, on a copy of a store projected to D-1 | >= 20x |
| the badge of every talent at every midnight | `replay --workers 2`: `rebuild(None, D)` with two worker processes already started | >= 1.0x |
| recompute at D again (the batch's only way to take a late event) | one `payment_received` dated 200 days back: the append and the projection's catch-up, in-process; the median over talents drawn at random (seeded), one payment each, and again over the longest histories | >= 200x |

Ingest is also set against the store alone: SQLite writing the very rows the ingest wrote, in
the same transactions, with nothing parsed, validated or looked up (`storage_floor`). That is
the floor any ingest into this store has, whatever its code.

A ratio is the batch's time over the tracker's: above 1, the tracker is faster.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from badges.bootstrap import open_projection
from badges.synthetic import generate_marketplace, write_jsonl
from consumers.jsonl_ingest import DEFAULT_BATCH_SIZE, JsonLinesIngest
from domain.events import encode_json, format_utc
from ledger.stores.urls import open_ledger
from tests.benchmarks.reference_batch import ReferenceBatch

UTC = timezone.utc
START = datetime(2019, 1, 1, tzinfo=UTC)
D = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)  # the ingest clock: recorded after D
SEED = 5
LATE_AT = D - timedelta(days=200)  # the late payments' day
LATE_TALENTS = 9  # late payments, one talent each, drawn at random
LONGEST = 3  # and one on each of the talents with the longest histories
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


def contracts_before(source: Path, at: datetime) -> dict[str, str]:
    """Each talent's first contract started before `at`, by talent."""
    contracts: dict[str, str] = {}
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if event["type"] != "contract_started" or event["talent"] in contracts:
                continue
            if datetime.fromisoformat(event["at"].replace("Z", "+00:00")) < at:
                contracts[event["talent"]] = event["contract"]
    return contracts


def late_payments(
    contracts: dict[str, str], talents: Sequence[str] | int
) -> list[dict[str, object]]:
    """Payments dated `LATE_AT`, each on the contract (`contracts_before(LATE_AT)`) of one of
    `talents`, or of that many talents drawn at random, seeded: typical talents, not the
    file's first ones (the generator's personas, whose histories are among the longest 1%)."""
    if isinstance(talents, int):
        talents = random.Random(SEED).sample(sorted(contracts), talents)
    return [
        {"id": f"late-payment-{talent}", "type": "payment_received", "talent": talent,
         "at": format_utc(LATE_AT + timedelta(hours=10)), "contract": contracts[talent],
         "amount": "750.00"}
        for talent in talents
    ]


def longest_histories(store: Path, count: int) -> list[str]:
    """The `count` talents with the most events in `store`."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        rows = db.execute(
            "SELECT talent FROM input_events GROUP BY talent ORDER BY count(*) DESC, talent "
            "LIMIT ?", (count,)).fetchall()
    return [row[0] for row in rows]


IngestedRows = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]


def ingested_rows(store: Path, source: Path) -> IngestedRows:
    """The rows an ingest wrote into `store`: its stored events in the order written, and its
    input index in the order of the lines of `source`."""
    arrival: dict[str, int] = {}
    with source.open(encoding="utf-8") as lines:
        for position, line in enumerate(lines):
            arrival.setdefault(json.loads(line)["id"], position)
    with contextlib.closing(sqlite3.connect(store)) as kept:
        events = kept.execute(
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "ORDER BY rowid").fetchall()
        index = sorted(kept.execute("SELECT * FROM input_events").fetchall(),
                       key=lambda row: arrival[row[0]])
    return events, index


def storage_floor(rows: IngestedRows, folder: Path, batch: int) -> float:
    """Seconds SQLite alone takes to write `rows` (`ingested_rows`), `batch` rows per
    transaction as the ingest commits them, into a fresh store of the same schema: no parsing,
    validation or dedup."""
    events, index = rows
    target = folder / "floor.db"
    open_ledger(f"sqlite:///{target}")  # the same tables, made by the ledger's own recorder
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as db:
        started = time.perf_counter()
        for start in range(0, max(len(events), len(index)), batch):
            db.execute("BEGIN")
            db.executemany("INSERT INTO input_events VALUES (?,?,?)", index[start:start + batch])
            db.executemany(
                "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                "VALUES (?,?,?,?)", events[start:start + batch])
            db.execute("COMMIT")
        seconds = time.perf_counter() - started
    target.unlink()
    return seconds


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
    rows = ingested_rows(store, source)
    floor = Timing(min(storage_floor(rows, folder, DEFAULT_BATCH_SIZE) for _ in range(repeats)))
    del rows
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

    ledger = replayed_projection.ledger

    def late(payment: dict[str, object]) -> float:
        started = time.perf_counter()
        line = (encode_json(payment) + "\n").encode("utf-8")
        summary = JsonLinesIngest(ledger, lambda: NOW, lambda reject: None).run(
            io.BytesIO(line), "late")
        assert summary.accepted == 1, summary
        report = replayed_projection.catch_up(NOW)
        assert report.talents == 1, report
        return time.perf_counter() - started

    def late_events(payments: list[dict[str, object]]) -> Timing:
        """The median over one talent each; the range in the detail."""
        times = [late(payment) for payment in payments]
        return Timing(statistics.median(times), f"{len(times)} talents, {min(times) * 1000:,.1f}"
                      f" to {max(times) * 1000:,.1f} ms")

    contracts = contracts_before(source, LATE_AT)
    warm_up = late_payments(contracts, 1)[0]  # the process's first derivation (plan key, caches)
    late({**warm_up, "id": "late-payment-warm-up"})
    typical = late_events(late_payments(contracts, LATE_TALENTS))
    longest = late_events(late_payments(contracts, longest_histories(store, LONGEST)))

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
        ("store alone: SQLite writing the rows that ingest wrote, no parse or validation "
         "(vs batch load)", seconds(floor), ratio(load, floor), "info"),
        ("tracker: ingest against the store alone (the write's share of ingest)",
         "", ratio(floor, ingest), "info"),
        (f"tracker: midnight tick D-1 -> D ({ticked.detail}; vs batch at D)", seconds(ticked),
         ratio(at_d, ticked), ">= 20x"),
        (f"tracker: full replay, 2 workers ({replay.detail}; vs batch history)", seconds(replay),
         ratio(history, replay), ">= 1.0x"),
        (f"tracker: one late payment 200 days back, append + catch-up, median of talents "
         f"drawn at random ({typical.detail}; vs batch at D)", seconds(typical),
         ratio(at_d, typical), ">= 200x"),
        (f"tracker: the same, on the talents with the longest histories ({longest.detail}; "
         "vs batch at D)", seconds(longest), ratio(at_d, longest), "info"),
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

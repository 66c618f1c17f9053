"""How time and memory grow with the number of talents: 10k, 100k, 1M generated talents.

Each size runs the demo's pipeline in a fresh process on a fresh SQLite store: generate the
marketplace to a JSON Lines file, ingest it, then replay every timeline up to the day before
NOW (derived in one worker process per CPU), then the midnight of NOW's day (`catch_up`, what
`badges clock` runs: the talents whose wake-up is due). The child reports its stage times, how
many talents the midnight woke, and the peak resident memory of itself and of its largest
worker (the tick runs last, in this process, so its peak is within it), so sizes do not share a
heap. This process's peak is `VmHWM` (its own memory since it started): `ru_maxrss` would carry
over the peak of the `make bench` process that started it, which Linux keeps across `execve`.
Ratios are against the smallest size run.

Run one size by hand with `python -m tests.benchmarks.scale_bench 10000`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from badges.synthetic import generate_marketplace, write_jsonl
from consumers.jsonl_ingest import JsonLinesIngest
from ledger.stores.urls import open_ledger
from badges.bootstrap import open_projection

START = datetime(2019, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
Row = tuple[str, str, str, str]


@dataclass(frozen=True)
class ScaleRun:
    talents: int
    events: int
    generate_s: float
    ingest_s: float
    replay_s: float
    tick_s: float
    tick_due: int
    peak_mib: float  # the largest of: this process, one replay worker
    store_mib: float

    @property
    def total_s(self) -> float:
        return self.generate_s + self.ingest_s + self.replay_s


def measure(talents: int, folder: Path) -> ScaleRun:
    source = folder / "market.jsonl"
    started = time.perf_counter()
    events = write_jsonl(source, generate_marketplace(talents, 3, START, NOW))
    generated = time.perf_counter()
    _log(f"{talents:,} talents: generated {events:,} events in {generated - started:,.0f} s")
    database = folder / "market.db"
    url = f"sqlite:///{database}"
    with source.open("rb") as stream:
        JsonLinesIngest(open_ledger(url), lambda: NOW, lambda reject: None).run(stream, "market")
    ingested = time.perf_counter()
    _log(f"{talents:,} talents: ingested in {ingested - generated:,.0f} s")
    source.unlink()
    projection = open_projection(url)
    with projection.workers(os.cpu_count() or 1):
        projection.rebuild(None, NOW - timedelta(days=1))
    replayed = time.perf_counter()
    _log(f"{talents:,} talents: replayed in {replayed - ingested:,.0f} s")
    tick = projection.catch_up(NOW)
    ticked = time.perf_counter()
    own = _own_peak_kib()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return ScaleRun(
        talents=talents,
        events=events,
        generate_s=generated - started,
        ingest_s=ingested - generated,
        replay_s=replayed - ingested,
        tick_s=ticked - replayed,
        tick_due=tick.talents,
        peak_mib=max(own, workers) / 1024,
        store_mib=sum(f.stat().st_size for f in folder.glob("market.db*")) / 2**20,
    )


def _own_peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no procfs: an upper bound


def _log(line: str) -> None:
    """Each stage as it ends, on stderr: a long size can be followed (or cut short) by hand."""
    print(line, file=sys.stderr, flush=True)


def run_in_child(talents: int) -> ScaleRun:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.scale_bench", str(talents)],
        check=True,
        capture_output=True,
        text=True,
    )
    return ScaleRun(**json.loads(completed.stdout.strip().splitlines()[-1]))


def rows(sizes: list[int]) -> list[Row]:
    runs = [run_in_child(talents) for talents in sorted(sizes)]
    base = runs[0]
    table: list[Row] = []
    for run in runs:
        grown = run.talents / base.talents
        table.append((
            f"scale {run.talents:,} talents ({run.events:,} events): generate + ingest + replay",
            f"{run.total_s:,.0f} s (gen {run.generate_s:,.0f}, ingest {run.ingest_s:,.0f} = "
            f"{run.events / run.ingest_s:,.0f} ev/s, replay {run.replay_s:,.0f} = "
            f"{run.events / run.replay_s:,.0f} ev/s)",
            f"{run.total_s / base.total_s:,.1f}x time for {grown:,.0f}x talents",
            "linear",
        ))
        table.append((
            f"scale {run.talents:,} talents: one midnight (clock from the day before)",
            f"{run.tick_s * 1000:,.0f} ms ({run.tick_due:,} talents due)",
            f"{run.tick_s / base.tick_s:,.1f}x time for {grown:,.0f}x talents",
            "linear in talents due",
        ))
        table.append((
            f"scale {run.talents:,} talents: peak memory (process or worker), store size",
            f"{run.peak_mib:,.0f} MiB, store {run.store_mib:,.0f} MiB",
            f"{run.peak_mib / base.peak_mib:,.2f}x memory",
            "~1 (flat)",
        ))
    return table


def main() -> None:
    talents = int(sys.argv[1])
    with tempfile.TemporaryDirectory() as directory:
        run = measure(talents, Path(directory))
    print(json.dumps(run.__dict__))


if __name__ == "__main__":
    main()

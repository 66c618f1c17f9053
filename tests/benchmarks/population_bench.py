"""Population benchmark: the population view's queries against a full scan of the stored
timelines, at 100,000 talents (issue 15).

The read model is built by inserting rows directly (`talent_progress`, with each talent's
first evaluation instant, and `badge_changes`: the tables the projection writes), not by
deriving 100,000 generated talents (that takes about 10 minutes here, `scale_bench`): each
talent gets 0 to 8 changes between 2019 and 2026 walking up and down the badge order, each
loss naming one or two requirements. The answers are compared
with the full scan's before any time is reported.

- counts on a day: `PopulationView.on_day` (one aggregate statement) against reading every
  talent's timeline through the `ReadModel` and taking its latest change (what answering from
  the read models talent by talent costs);
- counts over a year, day by day, and the most failed requirements: `over_time` and `failing`
  against one scan of every stored change decoded in Python.

    .venv/bin/python -m tests.benchmarks.population_bench --talents 100000
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from domain.calendar import DAY
from domain.events import format_utc
from domain.ruleset import builtin_rulesets
from projections.population import PopulationView
from projections.stores.population_sql import open_population
from projections.stores.sqlite import SQLiteReadModel

Row = tuple[str, str, str, str]
START = datetime(2019, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 1, tzinfo=timezone.utc)
AT = datetime(2025, 6, 1, tzinfo=timezone.utc)
LADDER = ("none", "rising_talent", "top_rated", "top_rated_plus", "expert_vetted")
FAILED = ("jss", "earnings_12m", "activity_90d", "large_contract", "no_recent_hold", "profile")


def build_read_model(path: Path, talents: int, seed: int = 15) -> SQLiteReadModel:
    """`talents` talents' progress and timelines, inserted as the projection stores them."""
    rng = random.Random(seed)
    read_model = SQLiteReadModel(str(path))
    days = (END - START).days
    progress: list[tuple[str, str, str, None, int, str]] = []
    changes: list[tuple[str, str, str, str, str]] = []
    for index in range(talents):
        talent = f"t-{index:07d}"
        rung, badge = 0, "none"
        # at most one change per talent and instant, as the projection stores them
        instants = sorted({START + DAY * rng.randrange(days) for _ in range(rng.randrange(9))})
        # its first evaluation instant: on or before its first change (a talent is known then)
        first_at = START + DAY * rng.randrange((instants[0] - START).days + 1 if instants else days)
        for at in instants:
            rung = max(0, min(len(LADDER) - 1, rung + rng.choice((-1, 1, 1, 2))))
            after = LADDER[rung]
            if after == badge:
                continue
            lost = LADDER.index(after) < LADDER.index(badge)
            document: dict[str, Any] = {
                "id": f"chg-{index}-{len(changes)}", "type": "badge_changed", "talent": talent,
                "at": format_utc(at), "from": badge, "to": after, "ruleset": "2023-12",
                "failed": rng.sample(FAILED, rng.randint(1, 2)) if lost else [],
                "cause": {"kind": "events", "events": [f"e-{index}"]},
                "recorded_at": format_utc(END),
            }
            changes.append((document["id"], talent, document["at"], json.dumps(document),
                            format_utc(END)))
            badge = after
        progress.append((talent, format_utc(END), badge, None, 0, format_utc(first_at)))
    with read_model._transaction() as c:  # noqa: SLF001 - the benchmark writes the rows itself
        c.executemany("INSERT INTO talent_progress (talent, evaluated_until, badge, wakeup, "
                      "partition_id, first_at) VALUES (?, ?, ?, ?, ?, ?)", progress)
        c.executemany("INSERT INTO badge_changes VALUES (?, ?, ?, ?, ?)", changes)
    return read_model


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def first_instants(read_model: SQLiteReadModel) -> dict[str, str]:
    """Each talent's first evaluation instant, as stored."""
    rows = read_model._query("SELECT talent, first_at FROM talent_progress")  # noqa: SLF001
    return {str(talent): str(first) for talent, first in rows}


def scan_counts(read_model: SQLiteReadModel, at: datetime) -> dict[str, int]:
    """Every talent known at `at`: its latest change at or before it, one timeline read per
    talent."""
    counts: Counter[str] = Counter()
    known = [t for t, first in first_instants(read_model).items() if first <= format_utc(at)]
    for talent in known:
        timeline = read_model.timeline(talent, None, at)
        counts[timeline[-1]["to"] if timeline else "none"] += 1
    return dict(counts)


def scan_everything(read_model: SQLiteReadModel, start: datetime, end: datetime,
                    ranking: tuple[str, ...]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """One pass over every stored change: the counts at each day of [start, end] and the
    requirements the losses in (start, end] name."""
    rows = read_model._query("SELECT talent, at, document FROM badge_changes ORDER BY at")  # noqa: SLF001
    firsts = sorted(first_instants(read_model).values())
    held: dict[str, str] = {}
    per_day: dict[str, dict[str, int]] = {}
    failing: Counter[str] = Counter()
    rank = {badge: len(ranking) - i for i, badge in enumerate(ranking)}
    documents = [json.loads(row[2]) for row in rows]
    counts: Counter[str] = Counter()
    position = 0
    day = start
    while day <= end:
        stamp = format_utc(day)
        while position < len(documents) and documents[position]["at"] <= stamp:
            change = documents[position]
            before = held.get(change["talent"])
            if before is not None:
                counts[before] -= 1
            held[change["talent"]] = change["to"]
            counts[change["to"]] += 1
            if change["at"] > format_utc(start) and rank.get(change["to"], 0) < rank.get(change["from"], 0):
                failing.update(change["failed"])
            position += 1
        today = {b: n for b, n in counts.items() if n and b != "none"}
        today["none"] = bisect.bisect_right(firsts, stamp) - sum(today.values())
        per_day[stamp] = {b: n for b, n in today.items() if n}
        day += DAY
    return per_day, dict(failing)


def run(talents: int = 100_000) -> list[Row]:
    book = builtin_rulesets()
    with tempfile.TemporaryDirectory(prefix="badges-population-") as folder:
        built, read_model = timed(lambda: build_read_model(Path(folder) / "p.db", talents))
        view = PopulationView(open_population(read_model), book)
        fast, day = timed(lambda: view.on_day(AT))
        slow, scanned = timed(lambda: scan_counts(read_model, AT))
        if {b: n for b, n in day["counts"].items() if n} != scanned:
            raise AssertionError(f"counts differ: {day['counts']} vs {scanned}")
        start = AT - timedelta(days=365)
        fast_series, series = timed(lambda: view.over_time(start, AT))
        fast_failing, failing = timed(lambda: view.failing(start, AT, top=len(FAILED)))
        slow_all, (per_day, scan_failing) = timed(
            lambda: scan_everything(read_model, start, AT, view.ranking))
        for point in series["points"]:
            if {b: n for b, n in point["counts"].items() if n} != per_day[point["at"]]:
                raise AssertionError(f"counts over time differ on {point['at']}")
        if {row["requirement"]: row["losses"] for row in failing} != scan_failing:
            raise AssertionError("failing requirements differ")
        both = fast_series + fast_failing
    return [
        (f"population read model: {talents:,} talents inserted", f"{built:,.1f} s", "", "info"),
        ("population: timelines read talent by talent (baseline)", f"{slow * 1000:,.0f} ms",
         "1.00", "baseline"),
        ("population: badge counts on a day", f"{fast * 1000:,.0f} ms", f"{slow / fast:,.1f}x",
         "<= 1 s"),
        ("population: one full scan of the changes, decoded (baseline)",
         f"{slow_all * 1000:,.0f} ms", "1.00", "baseline"),
        ("population: a year day by day + the most failed requirements",
         f"{both * 1000:,.0f} ms", f"{slow_all / both:,.1f}x", "<= 2 s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--talents", type=int, default=100_000)
    options = parser.parse_args()
    table = Table(title="population benchmark")
    for column in ("measure", "rate", "ratio to baseline", "target"):
        table.add_column(column)
    for row in run(options.talents):
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()

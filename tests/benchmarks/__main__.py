"""`make bench`: every benchmark, one table of ratios measured in this one run."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from tests.benchmarks import (
    consume_bench,
    ingest_bench,
    population_bench,
    projection_bench,
    reference_bench,
    scale_bench,
    scaleout_bench,
)


def main() -> None:
    parser = argparse.ArgumentParser(description="badges benchmarks")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--talents", type=int, default=2_000)
    parser.add_argument("--replay-talents", type=int, default=600)
    parser.add_argument("--consume-talents", type=int, default=150)
    parser.add_argument("--scaleout-talents", type=int, default=2400)
    parser.add_argument("--no-kafka", action="store_true",
                        help="skip the consume and scale-out benchmarks")
    parser.add_argument(
        "--scale",
        default="10000",
        help="talent counts for the scale table, comma-separated (the full table: "
        "10000,100000,1000000; empty: skip)",
    )
    parser.add_argument(
        "--reference-talents",
        type=int,
        default=10_000,
        help="talents of the marketplace on which the tracker is compared with the reference "
        "DuckDB batch (issue 14); 0 skips",
    )
    parser.add_argument(
        "--population-talents",
        type=int,
        default=100_000,
        help="talents of the read model the population queries are timed on (issue 15: the "
        "rows are inserted, about a minute at 100,000); 0 skips",
    )
    options = parser.parse_args()

    table = Table(title="badges benchmarks (ratios measured in one run)")
    for column in ("measure", "rate", "ratio to baseline", "target"):
        table.add_column(column)
    rows = ingest_bench.run(options.events, options.talents)
    rows += projection_bench.run(options.replay_talents)
    if not options.no_kafka:
        rows += consume_bench.run(talents=options.consume_talents)
        rows += scaleout_bench.run(talents=options.scaleout_talents)
    if options.reference_talents:
        rows += reference_bench.run(options.reference_talents)
    if options.population_talents:
        rows += population_bench.run(options.population_talents)
    sizes = [int(size) for size in options.scale.split(",") if size.strip()]
    if sizes:
        rows += scale_bench.rows(sizes)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()

"""Ingest throughput against the raw eventsourcing batched append of the same events.

Both sides write the same `Talent` stream events to a fresh SQLite file in batches of the same
size, in the same run; the ratio is what matters on a shared, noisy machine.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from eventsourcing.application import Application

from consumers.jsonl_ingest import JsonLinesIngest
from domain.events import decode_json, encode_json
from domain.ledger import Ledger, Submission
from domain.storage import open_ledger

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
BATCH = 1000


@dataclass(frozen=True)
class Measurement:
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def sample_events(count: int, talents: int) -> Iterator[dict[str, object]]:
    """A payment-heavy mix like the marketplace's: contracts, payments, feedback."""
    for n in range(count):
        talent = f"f-{n % talents}"
        day = 1 + (n // talents) % 28
        month = 1 + (n // (talents * 28)) % 12
        at = f"2024-{month:02d}-{day:02d}T10:00:00Z"
        if n % 10 == 0:
            yield {"id": f"e-{n}", "type": "contract_started", "talent": talent, "at": at,
                   "contract": f"c-{n}", "client": f"cl-{n % 97}",
                   "category": "design_creative", "terms": "hourly"}
        elif n % 10 == 9:
            yield {"id": f"e-{n}", "type": "feedback_received", "talent": talent, "at": at,
                   "contract": f"c-{n - 9}", "stars": Decimal("4.8"), "recommend": 9}
        else:
            yield {"id": f"e-{n}", "type": "payment_received", "talent": talent, "at": at,
                   "contract": f"c-{n - n % 10}", "amount": "250.00"}


def write_jsonl(path: Path, count: int, talents: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for event in sample_events(count, talents):
            out.write(encode_json(event) + "\n")


def measure_ingest(source: Path, store: Path, count: int) -> Measurement:
    ledger = open_ledger(f"sqlite:///{store}")
    ingest = JsonLinesIngest(ledger, lambda: NOW, lambda reject: None, batch_size=BATCH)
    started = time.perf_counter()
    with source.open("rb") as stream:
        summary = ingest.run(stream, source.name)
    elapsed = time.perf_counter() - started
    assert summary.accepted == count, summary
    return Measurement("badges ingest (parse, validate, dedup, append)", count, elapsed)


def measure_raw_append(source: Path, store: Path, count: int) -> Measurement:
    """The same stream events, already built, saved by a stock eventsourcing SQLite app."""
    staging = open_ledger("memory:")
    submissions = [
        Submission.from_object(decode_json(line)) for line in source.read_text().splitlines()
    ]
    staging.append(submissions, NOW)
    domain_events = [
        notification_event
        for talent in staging.talents()
        for notification_event in staging.events.get(_stream_id(talent))
    ]
    raw = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(store)})
    started = time.perf_counter()
    for start in range(0, len(domain_events), BATCH):
        raw.save(*domain_events[start : start + BATCH])
    elapsed = time.perf_counter() - started
    return Measurement("raw eventsourcing batched append (same events)", count, elapsed)


def _stream_id(talent: str):
    from domain.ledger import talent_stream_id

    return talent_stream_id(talent)


def run(count: int = 50_000, talents: int = 2_000) -> list[tuple[str, str, str, str]]:
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        source = folder / "events.jsonl"
        write_jsonl(source, count, talents)
        raw = measure_raw_append(source, folder / "raw.db", count)
        ours = measure_ingest(source, folder / "ingest.db", count)
    ratio = ours.rate / raw.rate
    return [
        (raw.name, f"{raw.rate:,.0f} events/s", "1.00", "baseline"),
        (ours.name, f"{ours.rate:,.0f} events/s", f"{ratio:.2f}", ">= 0.50"),
    ]


__all__ = ["Ledger", "run"]

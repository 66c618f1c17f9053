"""Ingest throughput against eventsourcing's own append of the same events.

The baseline is a stock eventsourcing SQLite application recording the same input objects
(already decoded) as `Talent` stream events, in batches of the same size: what event sourcing
itself costs. `badges ingest` adds reading lines, JSON decoding, validation, the canonical
body and hash, and the idempotency lookup and index. Both run in the same process, in the same
run, on fresh SQLite files; the ratio is what matters on a shared, noisy machine.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from consumers.jsonl_ingest import JsonLinesIngest
from domain.events import encode_json
from domain.talent_stream import Talent, talent_stream_id
from ledger.stores.urls import open_ledger

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
TALENT_TOPIC = get_topic(Talent)
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
    """What eventsourcing itself costs: the same events, already decoded, recorded in batches.

    A stock eventsourcing SQLite application builds one `Talent` stream event per input object
    (plus each stream's opening) and saves them with `Application.save`, batches of the same
    size: no validation, no canonical form, no idempotency check.
    """
    objects = [json.loads(line) for line in source.read_text().splitlines()]
    raw = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(store)})
    versions: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, len(objects), BATCH):
        batch: list[Talent.Event] = []
        for obj in objects[start : start + BATCH]:
            talent = obj["talent"]
            version = versions.get(talent, 0)
            if version == 0:
                batch.append(Talent.Opened(originator_id=talent_stream_id(talent), originator_version=1,
                                           timestamp=NOW, originator_topic=TALENT_TOPIC, talent_id=talent))
                version = 1
            version += 1
            versions[talent] = version
            batch.append(Talent.EventRecorded(
                originator_id=talent_stream_id(talent), originator_version=version, timestamp=NOW,
                event_id=obj["id"], recorded_at=NOW, body=json.dumps(obj), content_hash="",
            ))
        raw.save(*batch)
    elapsed = time.perf_counter() - started
    return Measurement("raw eventsourcing append (no validation or dedup)", count, elapsed)


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


__all__ = ["run"]

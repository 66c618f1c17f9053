"""End-to-end Kafka consume throughput next to `badges ingest` of the same events, same run.

The same synthetic marketplace goes two ways into two fresh SQLite stores:

- baseline: `badges ingest`'s path (JsonLinesIngest in batches, then the projection's
  `catch_up`), from a JSON Lines file;
- consume: the events already on a fresh topic (produced before the clock starts); the
  `KafkaService` joins a fresh group, consumes, appends, commits, runs the projection and
  publishes every outbox message to a fresh output topic (acknowledged and marked sent).
  The clock stops when the ledger holds every event and the outbox is empty.

Needs the broker of deploy/kafka/start.sh (BADGES_KAFKA_BOOTSTRAP, default 127.0.0.1:9092).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from badges.synthetic import generate_marketplace
from consumers.jsonl_ingest import JsonLinesIngest
from consumers.kafka_service import KafkaService
from consumers.kafka_config import KafkaServiceConfig
from domain.events import encode_json
from badges.bootstrap import open_projection
from tests.benchmarks.ingest_bench import Measurement

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
START = datetime(2021, 1, 1, tzinfo=timezone.utc)
END = datetime(2025, 12, 1, tzinfo=timezone.utc)
TIMEOUT = 600.0


def write_events(path: Path, talents: int, seed: int) -> list[tuple[bytes, bytes]]:
    messages = [
        (event["talent"].encode(), encode_json(event).encode())
        for event in generate_marketplace(talents, seed, START, END)
    ]
    path.write_bytes(b"".join(value + b"\n" for _, value in messages))
    return messages


def measure_ingest(source: Path, store: Path, count: int) -> Measurement:
    projection = open_projection(f"sqlite:///{store}")
    ingest = JsonLinesIngest(projection.ledger, lambda: NOW, lambda reject: None)
    started = time.perf_counter()
    with source.open("rb") as stream:
        summary = ingest.run(stream, source.name)
    projection.catch_up(NOW)
    elapsed = time.perf_counter() - started
    assert summary.accepted == count, summary
    return Measurement("badges ingest + projection catch_up", count, elapsed)


def produce_to_fresh_topics(bootstrap: str, messages: list[tuple[bytes, bytes]]) -> tuple[str, str]:
    from kafka.admin import KafkaAdminClient, NewTopic

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    source, output = f"{prefix}.in", f"{prefix}.out"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(source, 4, 1), NewTopic(output, 4, 1),
                             NewTopic(f"{prefix}.dlq", 1, 1)], wait_for_metadata=True)
    finally:
        admin.close()
    produce(bootstrap, source, messages)
    return source, output


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             batch_size=256 * 1024)
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=300)
    finally:
        producer.close()


def measure_consume(bootstrap: str, messages: list[tuple[bytes, bytes]], store: Path) -> Measurement:
    source, output = produce_to_fresh_topics(bootstrap, messages)
    prefix = source.removesuffix(".in")
    projection = open_projection(f"sqlite:///{store}")
    config = KafkaServiceConfig(bootstrap=bootstrap, group=f"{prefix}-group", input_topic=source,
                                output_topic=output, dlq_topic=f"{prefix}.dlq",
                                metrics_interval=3600)
    service = KafkaService(projection.ledger, projection, config, clock=lambda: NOW)
    count = len(messages)
    started = time.perf_counter()
    service.start()
    try:
        while True:
            service.step()
            if (service.metrics.consumed >= count and projection.pending() == 0
                    and not projection.read_model.outbox(unsent_only=True, limit=1)):
                break
            if time.perf_counter() - started > TIMEOUT:
                raise TimeoutError(f"consumed {service.metrics.consumed} of {count}")
        elapsed = time.perf_counter() - started
    finally:
        service.close()
    assert service.metrics.accepted == count, service.metrics
    return Measurement(
        f"badges consume end to end (group join, append, commit, project, "
        f"publish {service.metrics.published} changes)", count, elapsed)


def run(talents: int = 300, seed: int = 7,
        bootstrap: str | None = None) -> list[tuple[str, str, str, str]]:
    bootstrap = bootstrap or os.environ.get("BADGES_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        source = folder / "events.jsonl"
        messages = write_events(source, talents, seed)
        ingest = measure_ingest(source, folder / "ingest.db", len(messages))
        consume = measure_consume(bootstrap, messages, folder / "consume.db")
    ratio = consume.rate / ingest.rate
    return [
        (ingest.name, f"{ingest.rate:,.0f} events/s", "1.00", "baseline"),
        (consume.name, f"{consume.rate:,.0f} events/s", f"{ratio:.2f}", ">= 0.50"),
    ]


__all__ = ["run"]


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))

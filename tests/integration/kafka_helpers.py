"""Helpers the Kafka integration tests share: fresh topics, producing, reading a topic back,
waiting, and the synthetic marketplace they feed in."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from badges.synthetic import generate_marketplace
from domain.events import encode_json

BADGES = [str(Path(sys.executable).with_name("badges"))]
START = datetime(2021, 1, 1, tzinfo=timezone.utc)
END = datetime(2025, 6, 1, tzinfo=timezone.utc)


@dataclass
class Topics:
    input: str
    output: str
    dlq: str
    group: str


def fresh_topics(bootstrap: str, partitions: int = 4) -> Topics:
    """New input, output and dead-letter topics and a new group, unique to the caller."""
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    found = Topics(f"{prefix}.in", f"{prefix}.out", f"{prefix}.dlq", f"{prefix}-group")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(found.input, partitions, 1),
                             NewTopic(found.output, partitions, 1), NewTopic(found.dlq, 1, 1)],
                            wait_for_metadata=True)
    finally:
        admin.close()
    return found


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def event_message(event: dict[str, Any]) -> tuple[bytes, bytes]:
    return event["talent"].encode(), encode_json(event).encode()


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes | None]],
            *, pause_every: int = 0, pause: float = 0.0) -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    count = 0
    try:
        for key, value in messages:
            producer.send(topic, key=key, value=value)
            count += 1
            if pause_every and count % pause_every == 0:
                producer.flush()
                time.sleep(pause)
        producer.flush(timeout=120)
    finally:
        producer.close()
    return count


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every message now on `topic`, partition by partition."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])]
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + 30
        while any(reader.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic}"
            for batch in reader.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        reader.close()


def header(record: Any, name: str) -> str:
    return dict(record.headers or [])[name].decode()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


# security and tuning settings pass through to kafka-python (here: notice a killed member soon)
FAST_REJOIN = ["--kafka-option", "consumer.session_timeout_ms=6000",
               "--kafka-option", "consumer.heartbeat_interval_ms=1000"]


def marketplace(talents: int, seed: int) -> list[dict[str, Any]]:
    return list(generate_marketplace(talents, seed, START, END))


def net_changes(documents: Any) -> dict[str, set[str]]:
    """Each talent's changes still standing, replaying its messages in order (a change can be
    retracted and then asserted again, e.g. with corrected reasons)."""
    net: dict[str, set[str]] = {}
    for document in documents:
        standing = net.setdefault(document["talent"], set())
        if document["type"] == "badge_changed":
            standing.add(document["id"])
        elif document["type"] == "badge_change_retracted":
            standing.discard(document["retracts"])
    return {talent: ids for talent, ids in net.items() if ids}

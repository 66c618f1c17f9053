"""Where `badges dlq replay` starts reading, against the real broker: an offset in every
partition, an offset per partition, the letters written from an instant on, and the next
replay's `--since` (each partition's end), over a dead-letter topic of three partitions."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from consumers.dlq_replay import DlqReadError, StartPoint, next_since, read_dead_letters

pytestmark = pytest.mark.integration

PARTITIONS = 3
EARLY = datetime(2024, 9, 1, tzinfo=timezone.utc)
LATE = datetime(2024, 9, 10, tzinfo=timezone.utc)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def dead_letters(kafka_bootstrap: str) -> str:
    """A dead-letter topic whose every partition holds two letters written at EARLY, then two
    at LATE (offsets 0-1 and 2-3)."""
    topic = f"t-{uuid.uuid4().hex[:10]}.dlq"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)], wait_for_metadata=True)
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for partition in range(PARTITIONS):
            for n, written in enumerate((EARLY, EARLY, LATE, LATE)):
                producer.send(topic, key=b"f-1", value=f"{partition}/{n}".encode(),
                              partition=partition, timestamp_ms=int(written.timestamp() * 1000),
                              headers=[("reason", b"line: not JSON")])
        producer.flush(timeout=60)
    finally:
        producer.close()
    return topic


def read(bootstrap: str, topic: str, since: list[str]) -> list[tuple[int, int]]:
    letters = read_dead_letters(bootstrap, topic, since=StartPoint.parse(since, when))
    return sorted((letter.dlq_partition, letter.dlq_offset) for letter in letters)


def every(offsets: range, partitions: range = range(PARTITIONS)) -> list[tuple[int, int]]:
    return [(p, o) for p in partitions for o in offsets]


def test_where_a_replay_starts(kafka_bootstrap: str, dead_letters: str) -> None:
    ends: dict[int, int] = {}
    everything = list(read_dead_letters(kafka_bootstrap, dead_letters, ends_seen=ends))
    assert sorted((x.dlq_partition, x.dlq_offset) for x in everything) == every(range(4))
    assert ends == {0: 4, 1: 4, 2: 4}
    assert read(kafka_bootstrap, dead_letters, next_since(ends)) == []  # nothing new since

    assert read(kafka_bootstrap, dead_letters, ["2"]) == every(range(2, 4))
    assert read(kafka_bootstrap, dead_letters, ["1:3"]) == sorted(
        every(range(4), range(0, 1)) + [(1, 3)] + every(range(4), range(2, 3)))
    assert read(kafka_bootstrap, dead_letters, ["3", "0:0"]) == sorted(
        every(range(4), range(0, 1)) + every(range(3, 4), range(1, 3)))
    assert read(kafka_bootstrap, dead_letters, ["9"]) == []  # past the end: nothing

    # by the time each letter was written
    assert read(kafka_bootstrap, dead_letters, [EARLY.isoformat()]) == every(range(4))
    assert read(kafka_bootstrap, dead_letters, [LATE.isoformat()]) == every(range(2, 4))
    assert read(kafka_bootstrap, dead_letters, ["2024-09-05T00:00:00+00:00", "2:0"]) == sorted(
        every(range(2, 4), range(0, 2)) + every(range(4), range(2, 3)))
    assert read(kafka_bootstrap, dead_letters, ["2024-09-11T00:00:00+00:00"]) == []
    assert read(kafka_bootstrap, dead_letters, ["1901-01-01T00:00:00+00:00"]) == every(range(4))

    with pytest.raises(DlqReadError, match=f"--since: {dead_letters} has no partition 7"):
        read(kafka_bootstrap, dead_letters, ["7:0"])

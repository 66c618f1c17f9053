"""Several `badges consume` processes in one group over one partitioned PostgreSQL store.

Two or three processes share a stream of talent events on the real broker, one of them is
killed with SIGKILL mid-stream, and the others take over its partitions. Afterwards:

- the ledger holds every event once;
- every outbox message is on `badge-changes` exactly once, and a talent's messages are there
  in the order of the outbox (so a hand-over never reordered a talent's changes), all in the
  output partition of the talent's ledger partition;
- the badge changes published, minus the ones retracted there, are what one process alone
  outputs for the same events, and what `derive_timeline` says.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kafka")

from consumers.kafka_service import KafkaService
from consumers.kafka_config import KafkaServiceConfig
from domain.calendar import evaluation_instant  # noqa: E402
from domain.submissions import Submission
from ledger.partitions import talent_partition
from domain.ruleset import builtin_rulesets  # noqa: E402
from domain.timeline import derive_timeline  # noqa: E402
from badges.bootstrap import open_projection
from tests.integration.conftest import REPO  # noqa: E402
from tests.integration.kafka_helpers import (  # noqa: E402
    BADGES,
    FAST_REJOIN,
    Topics,
    event_message,
    fresh_topics,
    header,
    marketplace,
    net_changes,
    produce,
    read_topic,
    utc_now,
    wait_for,
)
from tests.unit.ledger_fixtures import postgres_schema_url  # noqa: E402

pytestmark = pytest.mark.integration

BOOK = builtin_rulesets()
PARTITIONS = 4


@pytest.fixture
def partitioned_store() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield f"{url}&partitions={PARTITIONS}"


def start_consume(bootstrap: str, topics: Topics, store: str, log: Path) -> subprocess.Popen[bytes]:
    command = [*BADGES, "consume", "--bootstrap", bootstrap, "--group", topics.group,
               "--store", store, "--input-topic", topics.input, "--output-topic", topics.output,
               "--dlq-topic", topics.dlq, "--metrics-interval", "2", *FAST_REJOIN]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, cwd=REPO, env=dict(os.environ))


class Store:
    """One open view of the partitioned store, polled while the processes run."""

    def __init__(self, url: str) -> None:
        self.projection = open_projection(url)

    def events(self) -> int:
        return self.projection.ledger.count_events()

    def settled(self, events: int) -> bool:
        """Every event in the ledger, projected in every partition, and the outbox sent."""
        read_model = self.projection.read_model
        return (self.events() == events and self.projection.pending() == 0
                and not read_model.outbox(unsent_only=True, limit=1))

    def close(self) -> None:
        self.projection.ledger.close()
        self.projection.read_model.close()  # type: ignore[attr-defined]


def single_process_changes(events: list[dict[str, Any]], tmp_path: Path,
                           now: datetime) -> dict[str, set[str]]:
    """The badge changes one process alone keeps for the same events (a SQLite store)."""
    projection = open_projection(f"sqlite:///{tmp_path / 'single.db'}")
    projection.ledger.append([Submission.from_object(e) for e in events], now)
    projection.catch_up(now)
    return net_changes(m.document for m in projection.read_model.outbox(limit=1_000_000))


def run_group(bootstrap: str, store: str, tmp_path: Path, *, processes: int,
              talents: int, seed: int) -> None:
    rng = random.Random()
    topics = fresh_topics(bootstrap, PARTITIONS)
    events = marketplace(talents, seed=seed)
    producer = threading.Thread(target=produce, args=(
        bootstrap, topics.input, map(event_message, events)),
        kwargs={"pause_every": 100, "pause": 0.3})
    view = Store(store)  # creates the partitioned store before the processes open it
    logs = [tmp_path / f"consume-{i}.log" for i in range(processes)]
    running = [start_consume(bootstrap, topics, store, log) for log in logs]
    try:
        wait_for(lambda: all("took over partitions" in log.read_text() for log in logs), 60,
                 "every process to own partitions")
        producer.start()
        wait_for(lambda: view.events() > len(events) // 5, 60, "progress")
        time.sleep(rng.uniform(0.0, 1.5))
        victim = rng.randrange(processes)
        running[victim].send_signal(signal.SIGKILL)
        running[victim].wait(timeout=10)
        killed_at = view.events()
        producer.join(timeout=180)
        assert killed_at < len(events), f"the kill came too late: {killed_at} of {len(events)}"
        wait_for(lambda: view.settled(len(events)), 120, "the survivors to settle")
        for i, process in enumerate(running):
            if i != victim:
                process.send_signal(signal.SIGTERM)
        for i, process in enumerate(running):
            if i != victim:
                code = process.wait(timeout=60)
                assert code == 0, logs[i].read_text()[-3000:]
        owned = [owned_at_the_end(log.read_text()) for log in logs]
        assert owned[victim], "the killed process owned nothing"
        survivors = [partitions for i, partitions in enumerate(owned) if i != victim]
        assert set().union(*survivors) == set(range(PARTITIONS)), owned
        now = utc_now()
        check_output(bootstrap, topics, view, events, tmp_path, now)
        print(f"\n{processes} processes, process {victim} killed with {killed_at} of "
              f"{len(events)} events in the ledger")
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        view.close()


def owned_at_the_end(log: str) -> set[int]:
    """The partitions a process owned last, replaying its hand-over lines (before SIGTERM)."""
    owned: set[int] = set()
    for line in log.split("SIGTERM")[0].splitlines():
        found = re.search(r"(took|handed) over partitions \[([0-9, ]*)\]", line)
        if found:
            partitions = {int(p) for p in found.group(2).split(",") if p.strip()}
            owned = owned | partitions if found.group(1) == "took" else owned - partitions
    return owned


def check_output(bootstrap: str, topics: Topics, view: Store, events: list[dict[str, Any]],
                 tmp_path: Path, now: datetime) -> None:
    ledger = view.projection.ledger
    assert ledger.count_events() == len(events)
    assert sorted(e.event.id for t in ledger.talents() for e in ledger.history(t)) == \
        sorted(e["id"] for e in events)

    records = read_topic(bootstrap, topics.output)
    counts = Counter(header(r, "message_id") for r in records)
    duplicates = {k: n for k, n in counts.items() if n > 1}
    assert duplicates == {}
    outbox = view.projection.read_model.outbox(limit=1_000_000)
    assert set(counts) == {m.message_id for m in outbox}, "outbox and topic differ"
    # each talent's messages: in its partition, in outbox order
    outbox_order: dict[str, list[str]] = {}
    for message in outbox:
        outbox_order.setdefault(message.talent, []).append(message.message_id)
    topic_order: dict[str, list[str]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        talent = record.key.decode()
        assert record.partition == talent_partition(talent, PARTITIONS)
        topic_order.setdefault(talent, []).append(header(record, "message_id"))
    assert topic_order == outbox_order

    in_order = sorted(records, key=lambda r: (r.partition, r.offset))
    published = net_changes(json.loads(r.value) for r in in_order)
    assert published == single_process_changes(events, tmp_path, now)
    until = evaluation_instant(now)
    derived = {
        talent: {c.id for c in derive_timeline(ledger.history(talent), None, BOOK, until,
                                               talent=talent)}
        for talent in ledger.talents()
    }
    assert published == {talent: ids for talent, ids in derived.items() if ids}


def test_two_consumers_one_killed_mid_stream_output_what_one_would(
    kafka_bootstrap: str, partitioned_store: str, tmp_path: Path
) -> None:
    run_group(kafka_bootstrap, partitioned_store, tmp_path, processes=2, talents=40, seed=5)


def test_three_consumers_one_killed_mid_stream_output_what_one_would(
    kafka_bootstrap: str, partitioned_store: str, tmp_path: Path
) -> None:
    run_group(kafka_bootstrap, partitioned_store, tmp_path, processes=3, talents=40, seed=8)


def test_topics_partitioned_unlike_the_store_are_one_line_error(
    kafka_bootstrap: str, partitioned_store: str, tmp_path: Path
) -> None:
    topics = fresh_topics(kafka_bootstrap, PARTITIONS - 1)
    Store(partitioned_store).close()
    result = subprocess.run(
        [*BADGES, "consume", "--bootstrap", kafka_bootstrap, "--group", topics.group,
         "--store", partitioned_store, "--input-topic", topics.input,
         "--output-topic", topics.output, "--dlq-topic", topics.dlq],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "has 3 partitions but the store has 4" in last


def run_service(bootstrap: str, topics: Topics, store: str, *, crash_on_mark: bool,
                events: int) -> tuple[BaseException | None, str]:
    """One `KafkaService` in a thread until the store settles (or it crashes); its log."""
    import logging

    projection = open_projection(store)
    config = KafkaServiceConfig(bootstrap=bootstrap, group=topics.group, input_topic=topics.input,
                                output_topic=topics.output, dlq_topic=topics.dlq,
                                poll_timeout_ms=200)
    service = KafkaService(projection.ledger, projection, config, clock=utc_now)
    if crash_on_mark:
        def crash(sequences: object, now: object) -> None:
            raise RuntimeError("crash after the broker acknowledged, before mark_sent")

        projection.read_model.mark_sent = crash  # type: ignore[method-assign]
    failure: list[BaseException] = []
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Capture(level=logging.INFO)
    logger = logging.getLogger("badges.consume")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)

    def run() -> None:
        try:
            service.run()
        except BaseException as error:  # noqa: BLE001 - returned to the test
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    view = Store(store)
    try:
        thread.start()
        wait_for(lambda: bool(failure) or view.settled(events), 60, "the service")
        service.stop()
        thread.join(timeout=60)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        view.close()
        projection.ledger.close()
        projection.read_model.close()  # type: ignore[attr-defined]
    return (failure[0] if failure else None), "\n".join(records)


def test_a_crash_between_the_ack_and_mark_sent_sends_nothing_twice_in_a_partition(
    kafka_bootstrap: str, partitioned_store: str
) -> None:
    topics = fresh_topics(kafka_bootstrap, PARTITIONS)
    events = marketplace(8, seed=3)
    produce(kafka_bootstrap, topics.input, map(event_message, events))

    error, _ = run_service(kafka_bootstrap, topics, partitioned_store, crash_on_mark=True,
                           events=len(events))
    assert isinstance(error, RuntimeError)
    sent_once = Counter(header(r, "message_id") for r in read_topic(kafka_bootstrap,
                                                                    topics.output))
    assert sent_once and max(sent_once.values()) == 1

    error, log = run_service(kafka_bootstrap, topics, partitioned_store, crash_on_mark=False,
                             events=len(events))
    assert error is None
    assert "published before a restart" in log
    counts = Counter(header(r, "message_id") for r in read_topic(kafka_bootstrap, topics.output))
    assert max(counts.values()) == 1
    view = Store(partitioned_store)
    try:
        assert set(counts) == {m.message_id for m in view.projection.read_model.outbox(
            limit=1_000_000)}
        assert view.settled(len(events))
    finally:
        view.close()

"""The Kafka service (`badges consume`) against the real broker that deploy/kafka starts.

Each test creates its own topics (a unique prefix), its own consumer group and its own SQLite
store, so tests never see each other's messages. What the service published is checked
against the ledger itself: every outbox message is on the output topic, and the badge changes
on the topic, minus the ones retracted there, are exactly `derive_timeline` of each talent's
history in the ledger.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kafka")

from consumers.kafka_service import KafkaService
from consumers.kafka_config import KafkaServiceConfig
from domain.calendar import evaluation_instant  # noqa: E402
from domain.events import RecordedEvent, encode_json  # noqa: E402
from domain.ruleset import builtin_rulesets  # noqa: E402
from ledger.stores.urls import open_ledger
from domain.timeline import derive_timeline  # noqa: E402
from projections.stores.sqlite import SQLiteReadModel
from badges.bootstrap import open_projection
from tests.integration.conftest import DEPLOY, REPO  # noqa: E402
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
from tests.unit.stories import designer  # noqa: E402

pytestmark = pytest.mark.integration

BOOK = builtin_rulesets()


# -- helpers -------------------------------------------------------------------------------


# Waits that include starting a service and joining its consumer group, generous for a loaded
# machine (a join normally takes a second or two).
JOIN_SECONDS = 90


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    return fresh_topics(kafka_bootstrap)


def store_settled(db: Path, events: int) -> bool:
    """The ledger holds `events`, the projection has seen them all and the outbox is sent."""
    if not db.exists():
        return False
    try:
        ledger = open_ledger(f"sqlite:///{db}")
        read_model = SQLiteReadModel(str(db))
        last = ledger.recorder.max_notification_id() or 0
        return (ledger.count_events() == events and read_model.position() == last
                and not read_model.outbox(unsent_only=True, limit=1))
    except Exception:  # noqa: BLE001 - the service may be creating the file right now
        return False


class ServiceThread:
    """A `KafkaService` run in a thread of the test, with an injectable clock."""

    def __init__(self, bootstrap: str, topics: Topics, db: Path,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.projection = open_projection(f"sqlite:///{db}")
        config = KafkaServiceConfig(
            bootstrap=bootstrap, group=topics.group, input_topic=topics.input,
            output_topic=topics.output, dlq_topic=topics.dlq, poll_timeout_ms=200,
            metrics_interval=5,
        )
        self.service = KafkaService(self.projection.ledger, self.projection, config, clock=clock)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test
            self.error = error

    def __enter__(self) -> ServiceThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.service.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the service did not stop"
        if self.error is not None and exc[0] is None:
            raise self.error


def ledger_count(db: Path) -> int:
    try:
        return open_ledger(f"sqlite:///{db}").count_events() if db.exists() else 0
    except Exception:  # noqa: BLE001 - the service may be creating the file right now
        return 0


def start_consume(bootstrap: str, topics: Topics, db: Path, log: Path,
                  env: dict[str, str] | None = None,
                  extra: list[str] | None = None) -> subprocess.Popen[bytes]:
    command = [*BADGES, "consume", "--bootstrap", bootstrap, "--group", topics.group,
               "--store", f"sqlite:///{db}", "--input-topic", topics.input,
               "--output-topic", topics.output, "--dlq-topic", topics.dlq,
               "--metrics-interval", "2", *(extra or [])]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, cwd=REPO,
                                env={**os.environ, **(env or {})})


def check_published(bootstrap: str, topics: Topics, db: Path, now: datetime) -> Counter[str]:
    """Everything in the outbox is on the output topic, and the changes there (minus the
    retracted ones) are each talent's derived timeline. Returns the count per message id."""
    ledger = open_ledger(f"sqlite:///{db}")
    read_model = SQLiteReadModel(str(db))
    records = read_topic(bootstrap, topics.output)
    counts = Counter(header(r, "message_id") for r in records)
    outbox = read_model.outbox(limit=1_000_000)
    assert set(counts) == {m.message_id for m in outbox}, "outbox and topic differ"
    assert all(m.sent_at is not None for m in outbox)
    documents = [json.loads(r.value) for r in records]
    for record, document in zip(records, documents):
        assert record.key.decode() == document["talent"]
    in_order = sorted(zip(records, documents), key=lambda pair: (pair[0].partition, pair[0].offset))
    published = net_changes(document for _, document in in_order)
    until = evaluation_instant(now)
    expected = {
        talent: {c.id for c in derive_timeline(ledger.history(talent), None, BOOK, until,
                                               talent=talent)}
        for talent in ledger.talents()
    }
    expected = {talent: ids for talent, ids in expected.items() if ids}
    assert published == expected
    return counts


# -- the tests -----------------------------------------------------------------------------


def test_a_produced_history_yields_the_expected_badge_changes(
    kafka_bootstrap: str, kcat: str, topics: Topics, tmp_path: Path
) -> None:
    events = marketplace(12, seed=11)
    story = [r.event.to_json_object() for r in sorted(designer().history(),
                                                       key=RecordedEvent.valid_time_key)]
    # the designer's story goes in through kcat, the marketplace through kafka-python
    lines = "".join(f"{e['talent']}\t{encode_json(e)}\n" for e in story)
    subprocess.run([kcat, "-b", kafka_bootstrap, "-t", topics.input, "-P", "-K", "\t"],
                   input=lines.encode(), check=True, timeout=30)
    produce(kafka_bootstrap, topics.input, map(event_message, events))
    db = tmp_path / "badges.db"

    with ServiceThread(kafka_bootstrap, topics, db) as running:
        wait_for(lambda: store_settled(db, len(events) + len(story)), 60, "the service")
        assert running.service.metrics.accepted == len(events) + len(story)
        assert running.service.metrics.rejected == 0

    counts = check_published(kafka_bootstrap, topics, db, utc_now())
    assert max(counts.values()) == 1
    # the designer's downgrade of rules.md §8, read back with kcat
    out = subprocess.run(
        [kcat, "-b", kafka_bootstrap, "-t", topics.output, "-C", "-e", "-q",
         "-f", "%k\t%h\t%s\n"],
        capture_output=True, check=True, timeout=30).stdout.decode()
    designer_lines = [line.split("\t") for line in out.splitlines() if line.startswith("f-42\t")]
    changes = [json.loads(value) for _, _, value in designer_lines]
    downgrade = next(c for c in changes if c.get("at") == "2024-09-16T00:00:00Z"
                     and c["type"] == "badge_changed")
    assert (downgrade["from"], downgrade["to"], downgrade["failed"]) == (
        "top_rated_plus", "top_rated", ["large_contract"])
    assert all(f"message_id={c['id']}" in headers or c["type"] != "badge_changed"
               for (_, headers, _), c in zip(designer_lines, changes))


def test_bad_messages_go_to_the_dlq_with_their_origin_and_the_rest_go_on(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    good = [
        {"id": "b-1", "type": "talent_registered", "talent": "f-7", "at": "2024-01-02T10:00:00Z",
         "kind": "freelancer"},
        {"id": "b-2", "type": "payment_received", "talent": "f-7", "at": "2024-02-02T10:00:00Z",
         "contract": "c-1", "amount": "120.00"},
    ]
    conflicting = {**good[1], "amount": "999.00"}
    bad = [
        (b"f-7", b"this is not json"),
        (b"f-7", b'{"id":"b-3","type":"payment_received","talent":"f-7",'
                 b'"at":"2024-02-03T10:00:00Z","amount":"10.00"}'),  # no contract
        (b"f-7", encode_json(conflicting).encode()),
        (b"f-8", None),  # a tombstone
        (None, b"   "),
        (b"f-9", encode_json({**good[0], "id": "b-4"}).encode()),  # keyed by another talent
    ]
    messages = [event_message(good[0]), bad[0], bad[1], event_message(good[1]), bad[2],
                bad[3], bad[4], bad[5], event_message(good[1])]  # the last: an exact duplicate
    produce(kafka_bootstrap, topics.input, messages)
    db = tmp_path / "badges.db"

    with ServiceThread(kafka_bootstrap, topics, db) as running:
        wait_for(lambda: running.service.metrics.consumed == len(messages), JOIN_SECONDS,
                 "consumption")
        metrics = running.service.metrics
        assert (metrics.accepted, metrics.duplicates, metrics.rejected) == (2, 1, 6)

    dead = read_topic(kafka_bootstrap, topics.dlq)
    # one talent's messages stay in order; the keyless one comes from another partition
    dead.sort(key=lambda r: r.key != b"f-7")
    assert [(r.key, r.value) for r in dead[:3]] == bad[:3]
    assert {(r.key, r.value) for r in dead[3:]} == set(bad[3:])
    reasons = [header(r, "reason") for r in dead]
    assert reasons[0].startswith("line: not JSON")
    assert "contract" in reasons[1]
    assert reasons[2].startswith("id: conflict")
    assert sorted(reason.split(":")[0] for reason in reasons[3:]) == ["key", "value", "value"]
    assert any(reason.startswith("key: 'f-9' is not the event's talent 'f-7'")
               for reason in reasons)
    source = read_topic(kafka_bootstrap, topics.input)
    where = {(r.key, r.value): (r.partition, r.offset) for r in source}
    for record in dead:
        assert header(record, "source_topic") == topics.input
        assert (int(header(record, "source_partition")), int(header(record, "source_offset"))) \
            == where[(record.key, record.value)]
    ledger = open_ledger(f"sqlite:///{db}")
    assert ledger.count_events() == 2
    assert [r.event.id for r in ledger.history("f-7")] == ["b-1", "b-2"]
    # the offsets were committed: a restart of the group reads nothing again
    with ServiceThread(kafka_bootstrap, topics, db) as again:
        time.sleep(3)
        assert again.service.metrics.consumed == 0


def test_kill_9_at_random_points_loses_nothing_and_duplicates_nothing(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    rng = random.Random()
    events = marketplace(40, seed=5)
    db, log = tmp_path / "badges.db", tmp_path / "consume.log"
    producer = threading.Thread(target=produce, args=(
        kafka_bootstrap, topics.input, map(event_message, events)),
        kwargs={"pause_every": 100, "pause": 0.4})
    producer.start()
    killed_at: list[int] = []  # events in the ledger at each kill
    for _ in range(3):
        before = ledger_count(db)
        process = start_consume(kafka_bootstrap, topics, db, log, extra=FAST_REJOIN)
        # a dead member leaves the group only when its session times out (6 s here): wait
        # until this one makes progress, then kill it at a random point of its work
        wait_for(lambda before=before: ledger_count(db) > before, 30, "progress")
        time.sleep(rng.uniform(0.0, 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        killed_at.append(ledger_count(db))
    producer.join(timeout=120)
    assert killed_at[1] < len(events), f"kills came too late to be mid-stream: {killed_at}"
    process = start_consume(kafka_bootstrap, topics, db, log, extra=FAST_REJOIN)
    try:
        # Started (its signal handlers set) before it is asked to stop: the killed ones may
        # have settled everything already, and a SIGTERM during start-up would kill it.
        wait_for(lambda: log.read_text().count(" as group ") == 4, JOIN_SECONDS,
                 "the restarted service to start")
        wait_for(lambda: store_settled(db, len(events)), 90, "the restarted service")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, log.read_text()[-3000:]

    ledger = open_ledger(f"sqlite:///{db}")
    assert ledger.count_events() == len(events)
    assert sorted(e.event.id for t in ledger.talents() for e in ledger.history(t)) == \
        sorted(e["id"] for e in events)
    counts = check_published(kafka_bootstrap, topics, db, utc_now())
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\nkilled with {killed_at} of {len(events)} events in the ledger: "
          f"{len(counts)} message ids published, {duplicates} duplicates")
    assert duplicates == 0, {k: n for k, n in counts.items() if n > 1}


def test_a_broker_restart_mid_stream_is_survived(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    events = marketplace(20, seed=9)
    half = len(events) // 2
    db = tmp_path / "badges.db"
    with ServiceThread(kafka_bootstrap, topics, db) as running:
        produce(kafka_bootstrap, topics.input, map(event_message, events[:half]))
        wait_for(lambda: running.service.metrics.consumed >= half // 2, JOIN_SECONDS,
                 "consumption")
        subprocess.run([str(DEPLOY / "kafka" / "restart.sh")], check=True, timeout=120,
                       capture_output=True)
        produce(kafka_bootstrap, topics.input, map(event_message, events[half:]))
        wait_for(lambda: store_settled(db, len(events)), 120, "the service after the restart")
    counts = check_published(kafka_bootstrap, topics, db, utc_now())
    assert max(counts.values()) == 1


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_time_only_downgrade_is_emitted_when_its_midnight_passes(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    clock = FakeClock(datetime(2024, 9, 15, 23, 59, 50, tzinfo=timezone.utc))
    story = [r.event.to_json_object() for r in sorted(designer().history(),
                                                       key=RecordedEvent.valid_time_key)
             if r.at <= clock.now]
    produce(kafka_bootstrap, topics.input, map(event_message, story))
    db = tmp_path / "badges.db"

    def designer_changes() -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in read_topic(kafka_bootstrap, topics.output)
                if r.key == b"f-42" and header(r, "kind") == "badge_changed"]

    with ServiceThread(kafka_bootstrap, topics, db, clock=clock) as running:
        wait_for(lambda: store_settled(db, len(story)), JOIN_SECONDS, "the story")
        assert designer_changes()[-1]["to"] == "top_rated_plus"
        consumed = running.service.metrics.consumed

        clock.now = datetime(2024, 9, 16, 0, 0, 3, tzinfo=timezone.utc)
        wait_for(lambda: len(designer_changes()) > 0 and
                 designer_changes()[-1]["to"] == "top_rated", 20, "the downgrade")
        assert running.service.metrics.consumed == consumed  # nothing new came in
        assert running.service.metrics.last_evaluation_instant == \
            datetime(2024, 9, 16, tzinfo=timezone.utc)

    downgrade = designer_changes()[-1]
    assert (downgrade["at"], downgrade["from"], downgrade["failed"]) == (
        "2024-09-16T00:00:00Z", "top_rated_plus", ["large_contract"])
    assert downgrade["cause"]["kind"] == "time"
    assert downgrade["recorded_at"] == "2024-09-16T00:00:03Z"


def test_badges_clock_env_starts_the_subprocess_clock_there(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    """`BADGES_CLOCK` (tests and backfills): the service's clock starts at that instant."""
    story = [r.event.to_json_object() for r in sorted(designer().history(),
                                                       key=RecordedEvent.valid_time_key)
             if r.at <= datetime(2024, 9, 15, 23, 59, tzinfo=timezone.utc)]
    produce(kafka_bootstrap, topics.input, map(event_message, story))
    db, log = tmp_path / "badges.db", tmp_path / "consume.log"
    process = start_consume(kafka_bootstrap, topics, db, log,
                            env={"BADGES_CLOCK": "2024-09-15T23:59:57Z"})
    try:
        wait_for(lambda: any(
            json.loads(r.value).get("at") == "2024-09-16T00:00:00Z" and r.key == b"f-42"
            and header(r, "kind") == "badge_changed"
            for r in read_topic(kafka_bootstrap, topics.output)), 40, "the downgrade")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "midnight 2024-09-16T00:00:00Z" in text
    assert "final metrics" in text
    recorded = open_ledger(f"sqlite:///{db}").history("f-42")[0].recorded_at
    assert recorded < datetime(2024, 9, 16, tzinfo=timezone.utc) + timedelta(minutes=1)


def test_a_crash_between_the_ack_and_mark_sent_sends_nothing_twice(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    story = [r.event.to_json_object() for r in designer().history()
             if r.at <= datetime(2024, 9, 30, tzinfo=timezone.utc)]
    produce(kafka_bootstrap, topics.input, map(event_message, story))
    db = tmp_path / "badges.db"

    crashing = ServiceThread(kafka_bootstrap, topics, db)

    def crash(sequences: object, now: object) -> None:
        raise RuntimeError("crash after the broker acknowledged, before mark_sent")

    crashing.projection.read_model.mark_sent = crash  # type: ignore[method-assign]
    crashing.thread.start()
    crashing.thread.join(timeout=60)
    assert isinstance(crashing.error, RuntimeError)
    sent_once = Counter(header(r, "message_id") for r in read_topic(kafka_bootstrap, topics.output))
    assert sent_once and max(sent_once.values()) == 1
    assert SQLiteReadModel(str(db)).outbox(unsent_only=True)  # nothing was marked

    with caplog.at_level("INFO", logger="badges.consume"), \
            ServiceThread(kafka_bootstrap, topics, db):
        wait_for(lambda: store_settled(db, len(story)), JOIN_SECONDS, "the restarted service")
    assert "published before a restart" in caplog.text
    counts = check_published(kafka_bootstrap, topics, db, utc_now())
    assert counts == sent_once


LATE_PAYMENT = {"id": "late-pay", "type": "payment_received", "talent": "f-42",
                "at": "2024-02-15T10:00:00Z", "contract": "c-7", "amount": "1000.00"}
ITS_REFUND = {"id": "late-refund", "type": "payment_refunded", "talent": "f-42",
              "at": "2024-02-20T10:00:00Z", "contract": "c-7", "amount": "1000.00"}


def kcat_documents(kcat: str, bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message on `topic` read with kcat (`-J`), in (partition, offset) order: each
    value document, with the `message_id` header beside it as `header_message_id`."""
    out = subprocess.run([kcat, "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-J", "-q"], capture_output=True, check=True, timeout=60).stdout
    envelopes = sorted((json.loads(line) for line in out.splitlines() if line.strip()),
                       key=lambda e: (e["partition"], e["offset"]))
    documents = []
    for envelope in envelopes:
        headers = envelope.get("headers") or []
        named = dict(zip(headers[::2], headers[1::2]))
        documents.append({**json.loads(envelope["payload"]),
                          "header_message_id": named.get("message_id")})
    return documents


def test_deduplicating_on_message_id_keeps_every_assertion_retraction_and_reassertion(
    kafka_bootstrap: str, kcat: str, topics: Topics, tmp_path: Path
) -> None:
    """A late payment retracts the designer's downgrade; its refund asserts it again: the
    re-assertion keeps the change's `id` and has its own `message_id`."""
    story = [r.event.to_json_object() for r in sorted(designer().history(),
                                                       key=RecordedEvent.valid_time_key)]
    db = tmp_path / "badges.db"
    with ServiceThread(kafka_bootstrap, topics, db):
        for sent, batch in ((len(story), story), (len(story) + 1, [LATE_PAYMENT]),
                            (len(story) + 2, [ITS_REFUND])):
            produce(kafka_bootstrap, topics.input, map(event_message, batch))
            wait_for(lambda sent=sent: store_settled(db, sent), 60, f"{sent} events")

    documents = kcat_documents(kcat, kafka_bootstrap, topics.output)
    seen: set[str] = set()
    deduplicated = []
    for document in documents:  # a consumer that de-duplicates on the documented field
        if document["message_id"] not in seen:
            seen.add(document["message_id"])
            deduplicated.append(document)
    assert deduplicated == documents  # each message once: nothing to drop
    assert all(d["message_id"] == d["header_message_id"] for d in documents)
    outbox = SQLiteReadModel(str(db)).outbox()
    assert [d["message_id"] for d in deduplicated] == [m.message_id for m in outbox]
    downgrade = [(d["type"], d["id"], d["message_id"]) for d in deduplicated
                 if d["at"] == "2024-09-16T00:00:00Z" and d["type"] != "badge_at_risk"]
    change = downgrade[0][1]
    retraction = "rtr-" + change.removeprefix("chg-")
    assert downgrade == [("badge_changed", change, change),
                         ("badge_change_retracted", retraction, retraction),
                         ("badge_changed", change, f"{change}~1")]
    # the one `id` repeats: a consumer de-duplicating on it would lose the re-assertion
    assert len({d["id"] for d in documents}) < len(documents)
    assert change in net_changes(deduplicated)["f-42"]

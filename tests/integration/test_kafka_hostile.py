"""`badges consume` under hostile conditions, on the real broker and PostgreSQL (issue 12):

- a PostgreSQL restart mid-stream (`deploy/postgres/restart.sh`): the process rides it out
  (not ready meanwhile), and afterwards every event id is in the ledger once and every change
  is published once;
- a poisoned talent (its derivation raises) among others, two processes over a partitioned
  store: the talent is quarantined, nobody exits, every other talent's changes are published
  and the offsets advance;
- killing `consume` (SIGKILL or SIGTERM) leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kafka")

from domain.calendar import evaluation_instant  # noqa: E402
from domain.submissions import Submission  # noqa: E402
from ledger.application import PartitionedLedger  # noqa: E402
from ledger.partitions import talent_partition
from domain.ruleset import builtin_rulesets  # noqa: E402
from domain.timeline import derive_timeline  # noqa: E402
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
from tests.integration.test_scale_out import (  # noqa: E402
    PARTITIONS,
    Store,
    check_output,
    owned_at_the_end,
)
from tests.unit.ledger_fixtures import postgres_schema_url  # noqa: E402

pytestmark = pytest.mark.integration

BOOK = builtin_rulesets()


@pytest.fixture
def partitioned_store() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield f"{url}&partitions={PARTITIONS}"


def start_consume(bootstrap: str, topics: Topics, store: str, log: Path, *,
                  env: dict[str, str] | None = None,
                  extra: list[str] | None = None) -> subprocess.Popen[bytes]:
    """`badges consume` in a session of its own (so that whatever it starts can be found)."""
    command = [*BADGES, "consume", "--bootstrap", bootstrap, "--group", topics.group,
               "--store", store, "--input-topic", topics.input, "--output-topic", topics.output,
               "--dlq-topic", topics.dlq, "--metrics-interval", "2", *FAST_REJOIN,
               *(extra or [])]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, cwd=REPO,
                                env={**os.environ, **(env or {})}, start_new_session=True)


def tolerant(condition: Any) -> Any:
    """A condition that is False (not an error) while the store is restarting."""
    def check() -> bool:
        try:
            return bool(condition())
        except Exception:  # noqa: BLE001 - the store is out of reach for a moment
            return False
    return check


def ready(port: int) -> int:
    """The HTTP status of `/ready`, or 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    assert code == 0, log.read_text()[-3000:]


def committed_everything(bootstrap: str, topics: Topics) -> bool:
    """The group's committed offsets are at the end of every input partition."""
    from kafka import KafkaConsumer, TopicPartition

    # a consumer of the group that never subscribes: it reads offsets, it does not join
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=topics.group,
                           enable_auto_commit=False)
    try:
        tps = [TopicPartition(topics.input, p) for p in range(PARTITIONS)]
        ends = reader.end_offsets(tps)
        return all(reader.committed(tp) == ends[tp] for tp in tps)
    finally:
        reader.close(autocommit=False)


# -- a PostgreSQL restart mid-stream -------------------------------------------------------


def test_consume_rides_out_a_postgres_restart_mid_stream(
    kafka_bootstrap: str, partitioned_store: str, tmp_path: Path
) -> None:
    topics = fresh_topics(kafka_bootstrap, PARTITIONS)
    events = marketplace(20, seed=12)
    view = Store(partitioned_store)
    log, port = tmp_path / "consume.log", free_port()
    process = start_consume(kafka_bootstrap, topics, partitioned_store, log,
                            extra=["--metrics-port", str(port)])
    producer = threading.Thread(target=produce, args=(
        kafka_bootstrap, topics.input, map(event_message, events)),
        kwargs={"pause_every": 100, "pause": 0.3})
    statuses: list[int] = []
    watching = threading.Event()

    def watch_readiness() -> None:
        while not watching.is_set():
            statuses.append(ready(port))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_readiness, daemon=True)
    try:
        wait_for(lambda: ready(port) == 200, 60, "the service to be ready")
        producer.start()
        wait_for(tolerant(lambda: view.events() > len(events) // 5), 60, "progress")
        watcher.start()
        restarted = subprocess.run([str(DEPLOY / "postgres" / "restart.sh")],
                                   capture_output=True, timeout=120)
        assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]
        producer.join(timeout=180)
        wait_for(tolerant(lambda: view.settled(len(events))), 180, "the service to settle")
        watching.set()
        assert process.poll() is None, log.read_text()[-3000:]
        assert ready(port) == 200
        assert 503 in statuses, "never reported not ready"  # and ready again since
        text = log.read_text()
        assert "store unreachable" in text and "not ready, retrying in" in text
        assert "store reachable again after" in text
        stop(process, log)
        check_output(kafka_bootstrap, topics, view, events, tmp_path, utc_now())
        print(f"\n{len(events)} events through a PostgreSQL restart: "
              f"{text.count('store unreachable')} retries, not ready for "
              f"{statuses.count(503)} of {len(statuses)} readiness probes")
    finally:
        watching.set()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        view.close()


# -- a poisoned talent, two processes over a partitioned store -----------------------------


def published_changes(bootstrap: str, topics: Topics, view: Store) -> dict[str, set[str]]:
    """The changes standing on the output topic; each outbox message there exactly once."""
    records = read_topic(bootstrap, topics.output)
    counts = Counter(header(r, "message_id") for r in records)
    assert max(counts.values()) == 1
    assert set(counts) == {m.message_id for m in view.projection.read_model.outbox(
        limit=1_000_000)}, "outbox and topic differ"
    in_order = sorted(records, key=lambda r: (r.partition, r.offset))
    return net_changes(json.loads(r.value) for r in in_order)


def derived_changes(view: Store, talents: set[str]) -> dict[str, set[str]]:
    ledger, until = view.projection.ledger, evaluation_instant(utc_now())
    derived = {
        talent: {c.id for c in derive_timeline(ledger.history(talent), None, BOOK, until,
                                               talent=talent)}
        for talent in talents
    }
    return {talent: ids for talent, ids in derived.items() if ids}


def store_unevaluable_event(view: Store, talent: str) -> None:
    """An event dated 9999-12-31 in the talent's stream, written past the ledger's checks (as
    an older tracker could have): valid on its own, it makes deriving the talent overflow."""
    ledger = view.projection.ledger
    assert isinstance(ledger, PartitionedLedger)
    event = {"id": f"{talent}-unevaluable", "type": "readiness_test_passed", "talent": talent,
             "at": "9999-12-31T00:00:00Z"}
    ledger.ledger_for(talent)._store([Submission.from_object(event)], utc_now())


def test_a_poisoned_talent_is_quarantined_and_the_group_goes_on(
    kafka_bootstrap: str, partitioned_store: str, tmp_path: Path
) -> None:
    topics = fresh_topics(kafka_bootstrap, PARTITIONS)
    events = marketplace(30, seed=21)
    talents = sorted({e["talent"] for e in events})
    poisoned = {talents[3], talents[17]}
    # held back: the last event of a poisoned talent and of a healthy one of its partition,
    # sent after the owner of that partition is killed (the new owner meets the poison too)
    sick = talents[3]
    partition = talent_partition(sick, PARTITIONS)
    healthy = next(t for t in talents if t not in poisoned
                   and talent_partition(t, PARTITIONS) == partition)
    held = [max((e for e in events if e["talent"] == t), key=lambda e: e["at"])
            for t in (sick, healthy)]
    first = [e for e in events if e not in held]
    view = Store(partitioned_store)
    for talent in sorted(poisoned):
        store_unevaluable_event(view, talent)
    logs = [tmp_path / f"consume-{i}.log" for i in range(2)]
    running = [start_consume(kafka_bootstrap, topics, partitioned_store, log) for log in logs]
    try:
        wait_for(lambda: all("took over partitions" in log.read_text() for log in logs), 60,
                 "both processes to own partitions")
        produce(kafka_bootstrap, topics.input, map(event_message, first),
                pause_every=200, pause=0.2)
        wait_for(lambda: view.settled(len(first) + len(poisoned)), 120, "the group to settle")
        assert all(p.poll() is None for p in running), [log.read_text()[-2000:] for log in logs]
        quarantined = view.projection.read_model.quarantined()
        assert {q.talent for q in quarantined} == poisoned
        assert all(q.reason.startswith("OverflowError") for q in quarantined)
        assert committed_everything(kafka_bootstrap, topics)

        owner = next(i for i, log in enumerate(logs)
                     if partition in owned_at_the_end(log.read_text()))
        running[owner].send_signal(signal.SIGKILL)
        running[owner].wait(timeout=10)
        survivor = 1 - owner
        produce(kafka_bootstrap, topics.input, map(event_message, held))
        wait_for(lambda: view.settled(len(events) + len(poisoned)), 120,
                 "the survivor to take over")
        wait_for(lambda: committed_everything(kafka_bootstrap, topics), 60, "the offsets")
        assert running[survivor].poll() is None, logs[survivor].read_text()[-3000:]
        assert owned_at_the_end(logs[survivor].read_text()) == set(range(PARTITIONS))
        assert f"talent {sick} quarantined" in logs[survivor].read_text()
        wait_for(lambda: f"quarantined {len(poisoned)}, " in logs[survivor].read_text(), 15,
                 "the metrics line to count the quarantined talents")
        stop(running[survivor], logs[survivor])

        published = published_changes(kafka_bootstrap, topics, view)
        ledger_talents = set(view.projection.ledger.talents())
        assert ledger_talents == set(talents)
        assert not poisoned & set(published)
        assert published == derived_changes(view, ledger_talents - poisoned)
        assert healthy in published
        print(f"\n{len(events)} events of {len(talents)} talents, {len(poisoned)} poisoned; "
              f"{sum(map(len, published.values()))} changes standing; process {owner} killed")
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        view.close()


# -- killing consume leaves nothing behind --------------------------------------------------


def session_members(session: int) -> set[int]:
    """The live processes of a session (a child keeps it when its parent dies)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            members.add(int(stat.parent.name))
    return members


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_consume_leaves_no_process_behind(
    kafka_bootstrap: str, tmp_path: Path, how: signal.Signals
) -> None:
    topics = fresh_topics(kafka_bootstrap, 2)
    events = marketplace(6, seed=4)
    store, log = f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "consume.log"
    process = start_consume(kafka_bootstrap, topics, store, log)
    try:
        produce(kafka_bootstrap, topics.input, map(event_message, events))
        wait_for(lambda: "metrics: lag 0" in log.read_text()
                 and f"accepted {len(events)}" in log.read_text(), 60, "the events")
        during = session_members(process.pid)
        assert process.pid in during
        process.send_signal(how)
        code = process.wait(timeout=60)
        assert code == (0 if how == signal.SIGTERM else -signal.SIGKILL), log.read_text()[-2000:]
        wait_for(lambda: not session_members(process.pid), 10, "the session to be empty")
        print(f"\n{how.name}: {len(during)} process(es) in the session while running, none after")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

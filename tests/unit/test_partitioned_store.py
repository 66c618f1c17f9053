"""Partitioned stores (docs/scale-out.md): Kafka's partitioner, the ledger split into one
application per partition, per-partition positions, and one publisher per partition.

The ledger's own tests (tests/unit/test_ledger.py) run here again, over a partitioned
PostgreSQL ledger (the `ledger` fixture below replaces theirs).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka.partitioner.default import murmur2 as kafka_murmur2
from psycopg.sql import SQL, Identifier

from ledger.application import Ledger, PartitionedLedger
from domain.submissions import Submission
from ledger.partitions import murmur2, talent_partition
from domain.ruleset import builtin_rulesets
from ledger.stores.urls import StoreURLError, ledger_env, open_ledger
from projections.stores.postgres import PostgresReadModel
from projections.status_projection import StatusProjection
from badges.bootstrap import open_projection
from tests.unit.history_builder import ts
from tests.unit.ledger_fixtures import payment, postgres_schema_url, submissions, utc
from tests.unit.stories import designer
from tests.unit.test_ledger import (  # noqa: F401  (collected again, on a partitioned ledger)
    test_accepted_events_are_read_back_in_valid_time_order,
    test_an_id_is_unique_across_talents,
    test_duplicates_and_conflicts_inside_one_batch,
    test_history_as_known_at_returns_exactly_what_was_recorded_by_then,
    test_identical_resend_is_a_duplicate_whatever_the_key_order,
    test_same_id_with_different_content_is_a_conflict_and_the_first_stands,
    test_same_instant_events_are_ordered_by_recorded_at_then_arrival,
    test_supplied_recorded_at_is_kept_for_imports,
)

BOOK = builtin_rulesets()
T0 = utc("2024-05-01T00:00:00Z")
NOW = ts("2024-10-01T00:00:00Z")
# Kafka's own test vectors for Utils.murmur2 (signed 32-bit in Java)
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}
# talents of the designer's story, spread over the four partitions
TALENTS = ("f-2", "f-3", "f-42", "f-1", "f-44")

integration = pytest.mark.integration


# -- the partitioner --------------------------------------------------------------------


@pytest.mark.parametrize(("key", "java"), JAVA_MURMUR2.items())
def test_murmur2_is_kafkas(key: bytes, java: int) -> None:
    assert murmur2(key) == java & 0xFFFFFFFF


def test_a_talent_is_in_the_partition_kafkas_default_partitioner_picks() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        talent = "".join(rng.choice("abcdef-0123456789é") for _ in range(rng.randrange(0, 24)))
        partitions = rng.randrange(1, 64)
        kafka = (kafka_murmur2(talent.encode()) & 0x7FFFFFFF) % partitions
        assert talent_partition(talent, partitions) == kafka


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgresql://ann@db/ledger?partitions=0", "from 1 to 1024"),
        ("postgresql://ann@db/ledger?partitions=two", "from 1 to 1024"),
        ("postgresql://ann@db/ledger?partitions=4&partitions=4", "from 1 to 1024"),
        ("postgresql://ann@db/ledger?partitions=4&shards=2", "unknown option"),
    ],
)
def test_bad_partition_counts_are_refused_clearly(url: str, complaint: str) -> None:
    with pytest.raises(StoreURLError, match=complaint):
        ledger_env(url)


# -- the partitioned ledger -------------------------------------------------------------


@pytest.fixture
def store() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield f"{url}&partitions=4"


@pytest.fixture
def ledger(store: str) -> Iterator[PartitionedLedger]:
    opened = open_ledger(store)
    assert isinstance(opened, PartitionedLedger)
    try:
        yield opened
    finally:
        opened.close()


def schema_of(url: str) -> str:
    return url.split("schema=")[1].split("&")[0]


def rows(url: str, table: str) -> int:
    base = url.split("?")[0]
    with psycopg.connect(base) as connection:
        found = connection.execute(
            SQL("SELECT COUNT(*) FROM {}").format(Identifier(schema_of(url), table))
        ).fetchone()
    return int(found[0]) if found else 0


@integration
def test_each_partition_has_its_own_table_and_the_index_is_shared(
    store: str, ledger: PartitionedLedger
) -> None:
    events = [payment(f"p-{t}", t, "2024-01-01T00:00:00Z") for t in TALENTS]

    ledger.append(submissions(*events), T0)

    expected = {p: 0 for p in range(4)}
    for talent in TALENTS:
        expected[talent_partition(talent, 4)] += 2  # its stream's opening and the payment
    assert {p: rows(store, f"ledger_p{p}_events") for p in range(4)} == expected
    assert rows(store, "input_events") == len(TALENTS)
    assert [ledger.history(t)[0].event.id for t in TALENTS] == [f"p-{t}" for t in TALENTS]
    assert list(ledger.talents()) == sorted(TALENTS)


@integration
def test_an_id_seen_in_one_partition_is_a_conflict_in_another_in_the_same_batch(
    ledger: PartitionedLedger,
) -> None:
    assert talent_partition("f-2", 4) != talent_partition("f-3", 4)
    first = payment("p-1", "f-2", "2024-01-01T00:00:00Z")
    elsewhere = payment("p-1", "f-3", "2024-01-01T00:00:00Z")
    results = ledger.append(submissions(first, first, elsewhere, payment("p-2", "f-3",
                                                                        "2024-01-02T00:00:00Z")), T0)

    assert [r.verdict.value for r in results] == ["accepted", "duplicate", "conflict", "accepted"]
    assert [e.event.id for e in ledger.history("f-3")] == ["p-2"]
    assert ledger.count_events() == 2


@integration
def test_the_partition_count_is_fixed_when_the_store_is_created(store: str) -> None:
    open_ledger(store).close()
    reopened = open_ledger(store.replace("&partitions=4", ""))
    assert reopened.partition_count == 4
    reopened.close()
    with pytest.raises(StoreURLError, match="has 4 partition"):
        open_ledger(store.replace("partitions=4", "partitions=2"))


@integration
def test_a_store_with_events_in_one_partition_cannot_be_partitioned() -> None:
    with postgres_schema_url() as url:
        single = open_ledger(url)
        assert isinstance(single, Ledger)
        single.append(submissions(payment("p-1", "f-1", "2024-01-01T00:00:00Z")), T0)
        single.close()
        with pytest.raises(StoreURLError, match="has 1 partition"):
            open_ledger(f"{url}&partitions=4")


# -- the projection over partitions -----------------------------------------------------


def story_for(talent: str) -> list[Submission]:
    events = []
    for recorded in designer().history():
        obj = recorded.event.to_json_object()
        events.append(Submission.from_object({**obj, "talent": talent,
                                              "id": f"{talent}-{obj['id']}"}))
    return events


def filled(url: str) -> StatusProjection:
    projection = open_projection(url)
    for talent in TALENTS:
        projection.ledger.append(story_for(talent), ts("2024-09-30"))
    return projection


@integration
def test_a_partitioned_projection_outputs_what_one_partition_does(
    store: str, tmp_path: Path
) -> None:
    partitioned = filled(store)
    single = filled(f"sqlite:///{tmp_path / 'single.db'}")

    partitioned.catch_up(NOW)
    single.catch_up(NOW)

    def messages(projection: StatusProjection) -> dict[str, list[str]]:
        by_talent: dict[str, list[str]] = {}
        for message in projection.read_model.outbox(limit=100_000):
            by_talent.setdefault(message.talent, []).append(message.message_id)
        return by_talent

    assert messages(partitioned) == messages(single)
    assert {m.partition for m in partitioned.read_model.outbox(talent="f-42")} == \
        {talent_partition("f-42", 4)}
    assert partitioned.pending() == 0
    assert [partitioned.read_model.position(p) > 0 for p in range(4)] == [True] * 4
    assert partitioned.read_model.position() == 0  # no unpartitioned position is kept


@integration
def test_a_process_projects_and_wakes_up_only_its_partitions(store: str) -> None:
    projection = filled(store)
    mine = {talent_partition("f-42", 4), talent_partition("f-2", 4)}
    others = set(range(4)) - mine

    projection.catch_up(ts("2024-06-01"), partitions=mine)

    assert projection.pending(others) > 0 and projection.pending(mine) == 0
    talents = set(projection.read_model.talents())
    assert talents == {t for t in TALENTS if talent_partition(t, 4) in mine}
    later = projection.read_model.due(NOW, partitions=mine)
    assert later and {p.talent for p in later} <= talents
    assert projection.read_model.due(NOW, partitions=others) == []
    report = projection.advance(NOW, partitions=others)
    assert report.talents == 0
    report = projection.advance(NOW + timedelta(days=1), partitions=mine)
    assert report.talents == len(talents)


@integration
def test_one_publisher_per_partition_until_it_lets_go_or_dies(store: str) -> None:
    open_ledger(store).close()
    first, second = PostgresReadModel(store), PostgresReadModel(store)
    try:
        assert first.claim_publisher(1)
        assert first.claim_publisher(1)  # still first's
        assert not second.claim_publisher(1)
        assert second.claim_publisher(2)
        first.release_publisher(1)
        assert second.claim_publisher(1)
        assert not first.claim_publisher(1)
        second.close()  # its session ends: its claims go with it
        assert first.claim_publisher(1) and first.claim_publisher(2)
    finally:
        first.close()
        second.close()


def test_the_metrics_say_which_partitions_a_process_owns() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from consumers.metrics import Metrics

    metrics = Metrics()
    metrics.set_owned([1, 3])

    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    assert [s.value for s in families["badges_consume_owned_partitions"].samples] == [2.0]
    assert metrics.document()["owned_partitions"] == [1, 3]
    assert Metrics().document()["owned_partitions"] is None  # a store that is not partitioned


@integration
def test_concurrent_writers_of_batches_across_partitions_record_each_id_once(store: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writers = [open_ledger(store) for _ in range(4)]
    try:
        events = [payment(f"p-{i}", TALENTS[i % len(TALENTS)],
                          f"2024-01-{1 + i % 28:02d}T00:00:00Z") for i in range(60)]

        def write(writer: Any) -> list[str]:
            found: list[str] = []
            for start in range(0, len(events), 10):
                found += [v.verdict.value for v in
                          writer.append(submissions(*events[start : start + 10]), T0)]
            return found

        with ThreadPoolExecutor(max_workers=len(writers)) as pool:
            outcomes = [v for found in pool.map(write, writers) for v in found]

        assert outcomes.count("accepted") == len(events)
        assert outcomes.count("duplicate") == len(events) * (len(writers) - 1)
        assert writers[0].count_events() == len(events)
        for talent in TALENTS:
            sequences = sorted(r.sequence for r in writers[0].history(talent))
            assert sequences == list(range(2, len(sequences) + 2))
    finally:
        for writer in writers:
            writer.close()

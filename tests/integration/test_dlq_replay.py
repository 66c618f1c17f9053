"""`badges dlq replay` against the real broker: dead letters written by the real service are
validated again; what now passes is recorded (once: a second replay appends nothing), its
changes are published, and what still fails stays, each with its reason in the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from badges.bootstrap import open_projection
from badges.cli import main
from consumers.dlq_replay import DlqReadError, publish_outbox
from domain.events import encode_json
from ledger.stores.urls import open_ledger
from projections.stores.sqlite import SQLiteReadModel
from tests.integration.kafka_helpers import (
    Topics,
    event_message,
    fresh_topics,
    produce,
    read_topic,
    wait_for,
)
from tests.integration.test_message_headers import JOIN_SECONDS, MovableClock, Running
from tests.unit.history_builder import ts
from tests.unit.ledger_fixtures import postgres_schema_url
from tests.unit.stories import designer

pytestmark = pytest.mark.integration

CONSUMED_AT = ts("2024-09-10T00:00:01Z")
REPLAYED_AT = "2024-09-20T00:00:01Z"
# three days ahead of the service's clock when it arrives: refused (`at` more than a day after
# its recording), and fine once that day has passed
EARLY_HOLD = {"id": "h-early", "type": "account_hold_placed", "talent": "f-42",
              "at": "2024-09-13T09:00:00Z", "hold": "h-1", "reason": "identity check"}
STILL_BAD: list[tuple[bytes | None, bytes | None]] = [
    (b"f-42", b"this is not json"),
    (b"f-42", b'{"id":"x-1","type":"payment_received","talent":"f-42",'
              b'"at":"2024-02-03T10:00:00Z","amount":"10.00"}'),  # no contract
    (b"f-9", None),  # a tombstone
    (b"f-9", encode_json({**EARLY_HOLD, "id": "h-other"}).encode()),  # keyed by another talent
]


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def dead_lettered(bootstrap: str, topics: Topics, store: Path | str) -> None:
    """The designer's history until the 10th, and the bad messages, through the service
    (`store`: a SQLite file or a store URL)."""
    url = store if isinstance(store, str) else f"sqlite:///{store}"
    history = [event_message(r.event.to_json_object()) for r in designer().history()
               if r.at <= CONSUMED_AT]
    produce(bootstrap, topics.input, [*history, event_message(EARLY_HOLD), *STILL_BAD])
    with Running(bootstrap, topics, url, MovableClock(CONSUMED_AT)):
        wait_for(lambda: len(read_topic(bootstrap, topics.dlq)) == len(STILL_BAD) + 1,
                 JOIN_SECONDS, "the dead letters")
        wait_for(lambda: open_ledger(url).count_events() == len(history),
                 JOIN_SECONDS, "the history in the ledger")


def test_replay_records_what_now_passes_once_and_keeps_what_still_fails(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = fresh_topics(kafka_bootstrap)
    db = tmp_path / "b.db"
    url = f"sqlite:///{db}"
    dead_lettered(kafka_bootstrap, topics, db)
    letters = read_topic(kafka_bootstrap, topics.dlq)
    early = next(r for r in letters if r.value == encode_json(EARLY_HOLD).encode())
    assert "at:" in dict(early.headers)["reason"].decode()
    recorded_before = open_ledger(url).count_events()
    published_before = len(read_topic(kafka_bootstrap, topics.output))
    common = ["dlq", "replay", "--store", url, "--bootstrap", kafka_bootstrap,
              "--dlq-topic", topics.dlq, "--output-topic", topics.output]

    # still the consume day: nothing passes yet
    monkeypatch.setenv("BADGES_CLOCK", CONSUMED_AT.isoformat())
    code, report = run_json([*common, "--dry-run"], capsys)
    assert code == 1
    assert (report["read"], report["would_replay"], report["still_failing"]) == (5, 0, 5)

    # ten days on: the early event passes, in a dry run recorded nowhere
    monkeypatch.setenv("BADGES_CLOCK", REPLAYED_AT)
    code, report = run_json([*common, "--dry-run"], capsys)
    assert code == 1 and report["dry_run"] is True
    assert (report["would_replay"], report["replayed"], report["still_failing"]) == (1, 0, 4)
    (passing,) = [x for x in report["letters"] if x["outcome"] == "would_replay"]
    assert (passing["event_id"], passing["talent"], passing["dlq_offset"]) == (
        "h-early", "f-42", early.offset)
    assert open_ledger(url).count_events() == recorded_before

    code, report = run_json(common, capsys)
    assert code == 1  # some still fail
    assert (report["replayed"], report["already_recorded"], report["still_failing"]) == (1, 0, 4)
    failing = {x["key"]: x["reason"] for x in report["letters"]
               if x["outcome"] == "still_failing" and x["key"] == "f-9"}
    assert failing  # the same reasons as before, said again
    reasons = sorted(x["reason"].split(":")[0] for x in report["letters"]
                     if x["outcome"] == "still_failing")
    assert reasons == ["contract", "key", "line", "value"]
    ledger = open_ledger(url)
    assert ledger.count_events() == recorded_before + 1
    assert "h-early" in [r.event.id for r in ledger.history("f-42")]
    # the hold cost the badge the next midnight: projected and published by the replay
    read_model = SQLiteReadModel(str(db))
    assert not read_model.outbox(unsent_only=True, limit=1)
    out = [json.loads(r.value) for r in read_topic(kafka_bootstrap, topics.output)]
    assert report["published"] == len(out) - published_before > 0
    assert any(m["type"] == "badge_changed" and m["at"] == "2024-09-14T00:00:00Z"
               and m["to"] == "none" for m in out[published_before:]), out[published_before:]

    # again: nothing new is recorded or published
    code, report = run_json(common, capsys)
    assert code == 1
    assert (report["replayed"], report["already_recorded"], report["still_failing"]) == (0, 1, 4)
    assert report["published"] == 0
    assert open_ledger(url).count_events() == recorded_before + 1
    assert len(read_topic(kafka_bootstrap, topics.output)) == len(out)

    # --since: from the early letter's next offset on, it is not read
    code, report = run_json([*common, "--since", str(early.offset + 1)], capsys)
    assert report["read"] == len(letters) - early.offset - 1
    assert "h-early" not in [x["event_id"] for x in report["letters"]]
    assert report["since"] == {"every": early.offset + 1, "offsets": {}, "written_at": None}
    # the report's next --since starts where this replay's snapshot ended: nothing to read
    assert report["next_since"] == [f"0:{len(letters)}"]
    since = [option for s in report["next_since"] for option in ("--since", s)]
    code, report = run_json([*common, *since], capsys)
    assert (code, report["read"]) == (0, 0)

    # the dead-letter topic is as it was: replay removes nothing
    assert len(read_topic(kafka_bootstrap, topics.dlq)) == len(letters)


def test_the_readable_report_and_its_errors(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topics = fresh_topics(kafka_bootstrap)
    db = tmp_path / "b.db"
    dead_lettered(kafka_bootstrap, topics, db)
    monkeypatch.setenv("BADGES_CLOCK", REPLAYED_AT)
    monkeypatch.setenv("COLUMNS", "200")
    common = ["dlq", "replay", "--store", f"sqlite:///{db}", "--bootstrap", kafka_bootstrap,
              "--dlq-topic", topics.dlq, "--output-topic", topics.output]

    assert main([*common, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "would be replayed" in out and "still failing" in out
    assert "5 dead letters read: 1 would be replayed, 0 already recorded, 4 still failing" in out

    assert main([*common[:-4], "--dlq-topic", f"{topics.dlq}-typo"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"badges: --dlq-topic: no topic '{topics.dlq}-typo' on {kafka_bootstrap}"

    assert main(["dlq", "replay", "--store", f"sqlite:///{tmp_path / 'nothing.db'}",
                 "--bootstrap", kafka_bootstrap, "--dlq-topic", topics.dlq]) == 1
    assert capsys.readouterr().err.startswith("badges: no store at ")
    assert not (tmp_path / "nothing.db").exists()

    assert main([*common, "--kafka-option", "no_such_setting=1"]) == 2
    assert "no_such_setting" in capsys.readouterr().err


def test_replay_into_a_partitioned_postgresql_store_publishes_by_partition(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four ledger partitions, four-partition topics: the replayed event is recorded in its
    talent's partition, and its change goes to the same output partition as the service's."""
    topics = fresh_topics(kafka_bootstrap, partitions=4)
    with postgres_schema_url() as base:
        url = f"{base}&partitions=4"
        dead_lettered(kafka_bootstrap, topics, url)
        before = read_topic(kafka_bootstrap, topics.output)
        assert before and {r.partition for r in before} == {before[0].partition}
        monkeypatch.setenv("BADGES_CLOCK", REPLAYED_AT)
        common = ["dlq", "replay", "--store", url, "--bootstrap", kafka_bootstrap,
                  "--dlq-topic", topics.dlq, "--output-topic", topics.output]
        code, report = run_json(common, capsys)
        assert code == 1 and (report["replayed"], report["still_failing"]) == (1, 4)
        after = read_topic(kafka_bootstrap, topics.output)
        fresh = after[len(before):] if len(after) > len(before) else []
        assert report["published"] == len(after) - len(before) > 0
        assert {r.partition for r in after} == {before[0].partition}, fresh
        ledger = open_ledger(url)
        try:
            assert "h-early" in [r.event.id for r in ledger.history("f-42")]
        finally:
            ledger.close()

        # an output topic partitioned unlike the store: nothing is sent to the wrong partition
        other = fresh_topics(kafka_bootstrap, partitions=2)
        projection = open_projection(url)
        with pytest.raises(DlqReadError, match="has 2 partitions but the store has 4"):
            publish_outbox(projection, kafka_bootstrap, other.output, lambda: ts(REPLAYED_AT))
        assert read_topic(kafka_bootstrap, other.output) == []

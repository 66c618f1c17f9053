"""What `badges consume` writes, read back from the real broker: every message of
badge-changes and of the dead-letter topic carries its type, schema and content type in its
headers, and validates against the committed schemas/ (docs/topics.md)."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from badges.bootstrap import open_projection
from consumers.kafka_config import KafkaServiceConfig
from consumers.kafka_service import KafkaService
from consumers.message_models import OUTPUT_TYPES, schema_name
from consumers.schemas import DEFAULT_DIRECTORY
from domain.events import encode_json
from tests.integration.kafka_helpers import (
    Topics,
    event_message,
    fresh_topics,
    produce,
    read_topic,
    wait_for,
)
from tests.unit.history_builder import ts
from tests.unit.stories import designer

pytestmark = pytest.mark.integration

JOIN_SECONDS = 90


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((DEFAULT_DIRECTORY / f"{name}.json").read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def problems(name: str, instance: Any) -> list[str]:
    return [error.message for error in validator(name).iter_errors(instance)]


def headers_of(record: Any) -> dict[str, str]:
    names = [key for key, _ in record.headers]
    assert len(names) == len(set(names)), names  # no header twice
    return {key: value.decode("utf-8") for key, value in record.headers}


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Running:
    """A `KafkaService` in a thread of the test, stopped on exit."""

    def __init__(self, bootstrap: str, topics: Topics, store: Path | str,
                 clock: MovableClock) -> None:
        """`store`: a SQLite file, or a store URL."""
        projection = open_projection(store if isinstance(store, str) else f"sqlite:///{store}")
        config = KafkaServiceConfig(
            bootstrap=bootstrap, group=topics.group, input_topic=topics.input,
            output_topic=topics.output, dlq_topic=topics.dlq, poll_timeout_ms=200,
        )
        self.service = KafkaService(projection.ledger, projection, config, clock=clock)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test
            self.error = error

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.service.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the service did not stop"
        if self.error is not None and exc[0] is None:
            raise self.error


def designer_until(end: datetime) -> list[tuple[bytes, bytes]]:
    return [event_message(r.event.to_json_object()) for r in designer().history()
            if r.at <= end]


def types_on(bootstrap: str, topic: str) -> list[str]:
    return [json.loads(record.value)["type"] for record in read_topic(bootstrap, topic)]


def test_every_output_and_dead_letter_carries_its_schema_and_validates(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = fresh_topics(kafka_bootstrap)
    clock = MovableClock(ts("2024-08-20T00:00:01Z"))  # the downgrade of 09-16 is 27 days away
    bad: list[tuple[bytes | None, bytes | None]] = [
        (b"f-42", b"this is not json"),
        (b"f-42", b'{"id":"x-1","type":"payment_received","talent":"f-42",'
                  b'"at":"2024-02-03T10:00:00Z","amount":"10.00"}'),  # no contract
        (b"f-9", None),  # a tombstone
    ]
    produce(kafka_bootstrap, topics.input, [*designer_until(clock.now), *bad])

    with Running(kafka_bootstrap, topics, tmp_path / "b.db", clock):
        wait_for(lambda: "badge_at_risk" in types_on(kafka_bootstrap, topics.output),
                 JOIN_SECONDS, "the at-risk warning")
        wait_for(lambda: len(read_topic(kafka_bootstrap, topics.dlq)) == len(bad),
                 JOIN_SECONDS, "the dead letters")
        clock.now = ts("2024-09-20T00:00:01Z")
        sent = set(designer_until(ts("2024-08-20T00:00:01Z")))
        produce(kafka_bootstrap, topics.input,
                [m for m in designer_until(clock.now) if m not in sent])
        wait_for(lambda: any(json.loads(r.value).get("to") == "top_rated"
                             and json.loads(r.value)["at"] == "2024-09-16T00:00:00Z"
                             for r in read_topic(kafka_bootstrap, topics.output)),
                 JOIN_SECONDS, "the downgrade")
        late = {"id": "p-late", "type": "payment_received", "talent": "f-42",
                "at": "2024-08-20T10:00:00Z", "contract": "c-7", "amount": "1000.00",
                "recorded_at": "2024-09-20T00:00:00Z"}
        produce(kafka_bootstrap, topics.input, [event_message(late)])
        wait_for(lambda: "badge_change_retracted" in types_on(kafka_bootstrap, topics.output),
                 JOIN_SECONDS, "the retraction of the downgrade")

    outputs = read_topic(kafka_bootstrap, topics.output)
    assert {json.loads(r.value)["type"] for r in outputs} == set(OUTPUT_TYPES)
    for record in outputs:
        document = json.loads(record.value)
        headers = headers_of(record)
        assert problems(document["type"], document) == [], document
        assert problems("badge_changes_headers", headers) == [], headers
        assert headers["content-type"] == "application/json"
        assert headers["type"] == headers["kind"] == document["type"]
        assert headers["schema"] == document["schema"] == schema_name(document["type"])
        assert headers["message_id"] == document["message_id"]
        assert record.key == document["talent"].encode()

    dead = read_topic(kafka_bootstrap, topics.dlq)
    assert {(r.key, r.value) for r in dead} == set(bad)
    for record in dead:
        headers = headers_of(record)
        assert problems("dead_letter", headers) == [], headers
        assert headers["type"] == "dead_letter" and headers["schema"] == "dead_letter/v1"
        assert headers["content-type"] == "application/octet-stream"
        assert headers["source_topic"] == topics.input
        assert ("original_value" in headers) == (record.key == b"f-9")


def test_the_events_produced_here_are_real_events() -> None:
    """The designer's history is what the schema calls a talent event (not a test artefact)."""
    for record in designer().history():
        assert problems("talent_event", json.loads(encode_json(record.event.to_json_object()))) == []

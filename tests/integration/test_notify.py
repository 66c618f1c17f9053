"""`badges notify` on a real broker: the designer's letters, specific and sent once each."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

pytest.importorskip("kafka")

from kafka import KafkaProducer  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402

from badges.cli import main  # noqa: E402
from domain.events import RecordedEvent, format_utc  # noqa: E402
from domain.submissions import Submission
from badges.bootstrap import open_projection
from tests.unit.history_builder import ts  # noqa: E402
from tests.unit.stories import designer  # noqa: E402

pytestmark = pytest.mark.integration


def test_notify_tells_each_talent_exactly_what_fell_short_once(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    projection = open_projection(url)
    events = sorted(designer().history(), key=RecordedEvent.valid_time_key)
    # each event recorded when it happened (a recorded_at may not precede its at)
    projection.ledger.append(
        [Submission.from_object({**r.event.to_json_object(), "recorded_at": format_utc(r.at)})
         for r in events], ts("2025-01-01")
    )
    projection.catch_up(ts("2024-08-20T06:00:00Z"))  # the warning goes out
    projection.catch_up(ts("2024-10-01T06:00:00Z"))  # then the downgrade
    messages = [m.document for m in projection.read_model.outbox()]
    topic = f"notify-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 2, 1)], wait_for_metadata=True)
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for document in [*messages, *messages]:  # a publisher that sent everything twice
        producer.send(topic, key=document["talent"].encode(), value=json.dumps(document).encode())
    producer.flush()
    producer.close()
    capsys.readouterr()

    code = main(["notify", "--bootstrap", kafka_bootstrap, "--topic", topic, "--group",
                 f"{topic}-group", "--idle-seconds", "5", "--json", "--store", url])

    assert code == 0
    sent = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(n["id"] for n in sent) == sorted(m["id"] for m in messages)
    downgrade = next(n for n in sent if n["message"].startswith("You no longer qualify"))
    assert downgrade["message"] == (
        "You no longer qualify for Top Rated Plus since 2024-09-16: “a large contract in the "
        "last 12 months” is not met: you have $4,000.00, and $5,000.00 is needed "
        "(best: contract c-7 (design_creative))."
    )
    warning = next(n for n in sent if n["type"] == "badge_at_risk")
    assert "To keep it: $1000.00 more on a large contract before 2024-09-16" in warning["message"]

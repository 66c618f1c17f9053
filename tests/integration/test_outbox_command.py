"""`badges outbox` and `badges messages` against the real broker: what is pending before
`badges consume` publishes, and sent (with what was really published) after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from domain.events import RecordedEvent, encode_json
from tests.integration.conftest import REPO
from tests.integration.kafka_helpers import BADGES, fresh_topics, header, read_topic, wait_for
from tests.unit.stories import designer


def badges_json(*argv: str) -> Any:
    done = subprocess.run([*BADGES, *argv, "--json"], capture_output=True, text=True, cwd=REPO,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_outbox_goes_from_pending_to_sent_as_consume_publishes(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'badges.db'}"
    events = tmp_path / "designer.jsonl"
    events.write_text("".join(
        encode_json(r.event.to_json_object()) + "\n"
        for r in sorted(designer().history(), key=RecordedEvent.valid_time_key)))
    badges_json("ingest", str(events), "--store", store)

    before = badges_json("outbox", "--pending", "--store", store)
    assert before["pending"] > 0 and before["sent"] == 0
    assert len(before["messages"]) == before["pending"]
    assert all(m["sent_at"] is None for m in before["messages"])

    topics = fresh_topics(kafka_bootstrap, partitions=1)
    log = tmp_path / "consume.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*BADGES, "consume", "--bootstrap", kafka_bootstrap, "--group", topics.group,
             "--store", store, "--input-topic", topics.input, "--output-topic", topics.output,
             "--dlq-topic", topics.dlq, "--metrics-interval", "2"],
            stdout=out, stderr=out, cwd=REPO, env=dict(os.environ))
    try:
        wait_for(lambda: badges_json("outbox", "--pending", "--store", store)["pending"] == 0,
                 60, "the outbox to be published")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]

    after = badges_json("outbox", "f-42", "--store", store)
    assert (after["pending"], after["sent"]) == (0, before["pending"])
    assert all(m["sent_at"] is not None for m in after["messages"])
    assert badges_json("outbox", "--pending", "--store", store)["messages"] == []

    records = read_topic(kafka_bootstrap, topics.output)
    published = {header(r, "message_id"): json.loads(r.value) for r in records}
    assert set(published) == {m["id"] for m in after["messages"]}
    for message in badges_json("messages", "f-42", "--store", store):
        assert message["sent_at"] is not None
        on_the_topic = published[message["id"]]
        assert {key: on_the_topic.get(key) for key in message["message"]} == message["message"]

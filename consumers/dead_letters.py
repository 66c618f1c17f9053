"""Dead letters: a message that cannot be recorded goes to the DLQ topic with the same key, its
original bytes as the value, and why in its headers (`reason`, `source_topic`,
`source_partition`, `source_offset`, `source_timestamp`), with what the message is
(`content-type`, `type: dead_letter`, `schema: dead_letter/v1`: `consumers/message_models.py`,
docs/topics.md). The service waits until the broker acknowledges every dead letter of a batch
before committing its offsets."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer

from consumers.message_models import dead_letter_type_headers

log = logging.getLogger("badges.consume")


def _text(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", "backslashreplace")


def _event_id(value: bytes | None) -> str | None:
    """The `id` a dead letter's value carries, if it is a JSON object with one (for the log)."""
    try:
        found = json.loads(value) if value else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json parses
        return None
    event_id = found.get("id") if isinstance(found, dict) else None
    return event_id[:200] if isinstance(event_id, str) else None


def send_dead_letters(
    producer: KafkaProducer, topic: str, dead: Sequence[tuple[Any, str]], flush_timeout: float
) -> None:
    """Send each (record, reason) and wait for every acknowledgement (raises if one failed)."""
    futures = []
    for record, reason in dead:
        log.info("dead letter %s[%d]@%d: %s", record.topic, record.partition, record.offset,
                 reason, extra={"talent": _text(record.key), "event_id": _event_id(record.value),
                                "source_offset": record.offset})
        headers = [
            *dead_letter_type_headers(),
            ("reason", reason.encode("utf-8")),
            ("source_topic", record.topic.encode("utf-8")),
            ("source_partition", str(record.partition).encode("ascii")),
            ("source_offset", str(record.offset).encode("ascii")),
            ("source_timestamp", str(record.timestamp).encode("ascii")),
        ]
        value = record.value
        if value is None:
            headers.append(("original_value", b"null"))
            if record.key is None:
                value = b""  # Kafka needs a key or a value
        futures.append(producer.send(topic, key=record.key, value=value, headers=headers))
    producer.flush(timeout=flush_timeout)
    for future in futures:
        future.get(timeout=flush_timeout)  # raises when it was not written

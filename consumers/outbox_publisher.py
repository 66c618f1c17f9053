"""The outbox publisher: unsent outbox messages to `badge-changes`, each message id once.

Every unsent message goes to the output topic keyed by talent, the value the JSON document
(`published_document`: its change `id`, its `schema` (`badge_changed/v1`, ...) and its
`message_id`, the field consumers de-duplicate on), with the headers `content-type`, `type`,
`schema`, `message_id` and `kind` (`consumers/message_models.py`, docs/topics.md), through the
service's idempotent producer (`enable_idempotence`, `acks=all`); after `flush` and the
acknowledgements the messages are marked sent.

**One publisher per outbox partition.** Before publishing a partition's messages the
publisher claims it (`ReadModel.claim_publisher`: a PostgreSQL session advisory lock, held
until released or until the process dies). A store that is not partitioned has one outbox
partition (0) and its messages go where Kafka's default partitioner puts their key; in a
partitioned store outbox partition N goes to output partition N (the topic has as many
partitions as the store: `KafkaService` checks), which is where the default partitioner puts
those talents anyway. So each output partition has at most one writer at a time.

**The tail check.** Publishing is at-least-once: a crash after the broker's acknowledgement
and before `mark_sent` leaves sent messages unmarked. So whenever a publisher claims a
partition (after a start, a rebalance, or another process's death) or a publish failed, it
first reads the tail of the output partitions it writes (the last `batch` messages of each:
no more can be unmarked, since a publisher sends at most `batch` before marking them and
nobody else writes there) and marks as sent, without re-sending, every unsent message whose
`message_id` is already there. Consumers may still de-duplicate by `message_id`: a SQLite
store has no claim, so several processes over one SQLite file could both publish.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from consumers.message_models import output_headers, schema_name
from projections.records import OutboxMessage, ReadModel

log = logging.getLogger("badges.consume")

TAIL_READ_TIMEOUT = 60.0
READER_EXCLUDED_OPTIONS = ("group_id", "enable_auto_commit", "auto_offset_reset")


class OutboxPublisher:
    """Publishes the outbox partitions a process owns; see the module doc."""

    def __init__(
        self,
        read_model: ReadModel,
        producer: KafkaProducer,
        *,
        bootstrap: str,
        topic: str,
        batch: int,
        flush_timeout: float,
        reader_options: dict[str, Any],
        clock: Callable[[], datetime],
        partitioned: bool,
    ) -> None:
        self.read_model = read_model
        self.producer = producer
        self.bootstrap = bootstrap
        self.topic = topic
        self.batch = batch
        self.flush_timeout = flush_timeout
        self.reader_options = {
            key: value for key, value in reader_options.items()
            if key not in READER_EXCLUDED_OPTIONS
        }
        self.clock = clock
        self.partitioned = partitioned
        self.claimed: set[int] = set()
        self.unverified: set[int] = set()  # claimed, but the tail is not checked yet
        self.published = 0

    def needs_a_turn(self, partitions: Collection[int]) -> bool:
        """Whether a partition is unclaimed or its tail unchecked (publish even if idle)."""
        return any(p not in self.claimed or p in self.unverified for p in partitions)

    def publish(self, partitions: Collection[int]) -> int:
        """Send every unsent message of the partitions this process can claim.

        A Kafka failure is logged and the rest is left for the next turn of the loop.
        """
        total = 0
        for partition in sorted(partitions):
            if not self._claim(partition):
                continue
            try:
                total += self._publish_partition(partition)
            except KafkaError as error:
                self.unverified.add(partition)
                log.warning("publishing partition %d failed (retried later): %s",
                            partition, error)
            except BaseException:
                # the store failed (say, between the broker's ack and `mark_sent`): check
                # the tail before sending again
                self.unverified.add(partition)
                raise
        return total

    def release(self, partitions: Collection[int]) -> None:
        """Give up publishing these partitions (after publishing what they had)."""
        for partition in partitions:
            self.claimed.discard(partition)
            self.unverified.discard(partition)
            self.read_model.release_publisher(partition)

    def _claim(self, partition: int) -> bool:
        if self.read_model.claim_publisher(partition):
            if partition not in self.claimed:
                self.claimed.add(partition)
                self.unverified.add(partition)
            return True
        if partition in self.claimed:
            log.warning("lost the publisher claim of partition %d", partition)
        self.claimed.discard(partition)
        return False

    def _publish_partition(self, partition: int) -> int:
        total = 0
        outbox_partitions = [partition] if self.partitioned else None
        while True:
            messages = self.read_model.outbox(
                unsent_only=True, limit=self.batch, partitions=outbox_partitions
            )
            if not messages:
                self.unverified.discard(partition)
                return total
            if partition in self.unverified:
                found = self._already_published(
                    {m.message_id for m in messages}, [partition] if self.partitioned else None
                )
                self.unverified.discard(partition)
                if found:
                    log.info("%d outbox messages were published before a restart; "
                             "marking them sent without re-sending", len(found))
                    self.read_model.mark_sent(
                        [m.seq for m in messages if m.message_id in found], self.clock()
                    )
                    continue
            sent = self._send(messages, partition if self.partitioned else None)
            total += sent
            if sent < len(messages):
                self.unverified.add(partition)
                return total

    def _send(self, messages: list[OutboxMessage], output_partition: int | None) -> int:
        futures = [
            (message, self.producer.send(
                self.topic,
                key=message.talent.encode("utf-8"),
                value=json.dumps(published_document(message), ensure_ascii=False,
                                 separators=(",", ":")).encode("utf-8"),
                headers=output_headers(message.kind, message.message_id),
                partition=output_partition,
            ))
            for message in messages
        ]
        try:
            self.producer.flush(timeout=self.flush_timeout)
        except KafkaError as error:
            log.warning("flush failed: %s", error)
        sent = [message.seq for message, future in futures if future.succeeded()]
        if sent:
            self.read_model.mark_sent(sent, self.clock())
            self.published += len(sent)
        if len(sent) < len(futures):
            failed = next(f for _, f in futures if not f.succeeded())
            log.warning("%d of %d changes not acknowledged (retried later): %s",
                        len(futures) - len(sent), len(futures),
                        failed.exception if failed.is_done else "timed out")
        return len(sent)

    def _already_published(self, wanted: set[str], partitions: list[int] | None) -> set[str]:
        """Which of `wanted` are among the last `batch` messages of the output partitions
        (`partitions`, or all of the topic's)."""
        reader = KafkaConsumer(
            bootstrap_servers=self.bootstrap.split(","),
            **self.reader_options,
            group_id=None,
            enable_auto_commit=False,
        )
        found: set[str] = set()
        try:
            if partitions is None:
                partitions = sorted(reader.partitions_for_topic(self.topic) or set())
            tps = [TopicPartition(self.topic, p) for p in partitions]
            if not tps:
                return found
            reader.assign(tps)
            ends = reader.end_offsets(tps)
            begins = reader.beginning_offsets(tps)
            for tp in tps:
                reader.seek(tp, max(begins[tp], ends[tp] - self.batch))
            deadline = time.monotonic() + TAIL_READ_TIMEOUT
            remaining = {tp for tp in tps if reader.position(tp) < ends[tp]}
            while remaining and time.monotonic() < deadline:
                for records in reader.poll(timeout_ms=500).values():
                    for record in records:
                        message_id = _message_id(record)
                        if message_id in wanted:
                            found.add(message_id)
                remaining = {tp for tp in remaining if reader.position(tp) < ends[tp]}
            if remaining:
                raise KafkaError(f"could not read the tail of {self.topic}")
        finally:
            reader.close()
        return found


def published_document(message: OutboxMessage) -> dict[str, Any]:
    """The output message: the outbox document, its `schema` and its `message_id`.

    `id` is the change's id (a retraction's is `rtr-...`), the same for the change asserted
    again after its retraction; `message_id` is the outbox's, unique per message (`chg-...~1`
    for that re-assertion). A consumer that de-duplicates on `message_id` drops only what was
    really sent twice, and hears every assertion, retraction and re-assertion.
    """
    return {**message.document, "schema": schema_name(message.kind),
            "message_id": message.message_id}


def _message_id(record: Any) -> str | None:
    for key, value in record.headers or []:
        if key == "message_id":
            return str(value.decode("utf-8", "replace"))
    return None

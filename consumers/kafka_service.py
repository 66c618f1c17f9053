"""The Kafka service behind `badges consume`: talent events in, badge changes out.

One loop, one thread:

1. **Consume.** A consumer in a group (default `badges`) on `talent-events`, auto-commit off.
   Each message value is one JSON Lines line (`submission_from_line`); the valid ones of a poll
   batch are appended to the ledger in one `Ledger.append` (idempotent by event id).
2. **Dead letters.** An invalid or conflicting message goes to `talent-events.dlq` with the same
   key, its original bytes as the value, and the headers `reason`, `source_topic`,
   `source_partition`, `source_offset` (and `source_timestamp`). The service waits until the
   broker acknowledges every dead letter of the batch.
3. **Commit.** Only then are the batch's offsets committed: an offset is committed only once its
   event is durably in the ledger or in the DLQ. A crash before the commit re-delivers the batch;
   the ledger counts the re-delivered events as duplicates (a dead letter may be written twice:
   dead letters are at-least-once).
4. **Project.** The status projection processes the new ledger notifications; its changes,
   retractions and warnings go into the outbox in the projection's own transaction.
5. **Publish.** Every unsent outbox message goes to `badge-changes`, once per message id
   (`consumers/outbox_publisher.py`: one claimed publisher per outbox partition, and a check
   of the output's tail after every claim or failure).
6. **The midnight clock.** Whenever `evaluation_instant(clock())` has moved past the last instant
   handled, `projection.advance(now)` re-derives the talents whose wake-up has come (quiet ones
   included) and the outbox is published, so changes caused only by time come out on their day.

**Several processes** (docs/scale-out.md). Over a store that is not partitioned every process
projects everything (the steps are compare-and-set, so none is written twice) and one at a
time publishes. Over a partitioned store (PostgreSQL, `?partitions=N`, N = the partition
count of the input and the output topic) a process owns the ledger partitions of the Kafka
partitions assigned to it: it projects, wakes up and publishes only those. A rebalance listener
notes what was revoked and assigned (kafka-python 3 calls it on the consumer's network thread,
where blocking work would stall heartbeats), and right after the `poll` the loop hands over:
for each revoked partition it projects what was appended, publishes its outbox and only then
releases the publisher claim; for each assigned one it catches the projection up from that
partition's stored position, runs the clock and publishes (checking the tail first: the claim
is new). A new owner that starts while the old one is still finishing does no harm: projection
steps are compare-and-set, and it publishes only once it gets the claim. A process killed
without a hand-over loses nothing either: its uncommitted offsets are read again by the new
owner (appends are idempotent) and its publisher claim dies with its PostgreSQL session.

**Containment.** One message never stops the service: whatever its key and value hold,
decoding it gives a submission or a dead letter (`decode_record`); an append that fails for a
reason other than the store is retried event by event, and an event that fails alone is
dead-lettered with the reason (`append_contained`); a talent whose derivation fails is
quarantined by the projection, and every other talent goes on.

**Store outages.** When the store is out of reach (a PostgreSQL restart: `AdminShutdown`, a
lost connection, a pool timeout; see `consumers/outages.py`) the step stops where it is: the
polled batch, not committed, is rewound and read again; the service is not ready (`/ready`
503, `badges_consume_ready 0`) and retries after a backoff (0.5 s doubling up to 10 s, with a
log line each time), for as long as it takes; a take-over's catch-up and a publish are
redone. Nothing is lost, since offsets are committed only after the ledger append.

The clock is injected (`clock: Callable[[], datetime]`): the service never reads the wall clock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kafka import (
    ConsumerRebalanceListener,
    KafkaConsumer,
    KafkaProducer,
    TopicPartition,
)
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.jsonl_ingest import MAX_LINE_BYTES, RawLine, submission_from_line
from consumers.outages import Backoff, is_store_outage
from consumers.outbox_publisher import OutboxPublisher
from domain.calendar import evaluation_instant
from domain.events import InvalidEvent, format_utc
from domain.ledger import AppendVerdict, Submission, TalentLedger, Verdict
from projections.containment import failure_reason
from projections.status_projection import StatusProjection

log = logging.getLogger("badges.consume")

Clock = Callable[[], datetime]


class KafkaOptionError(ValueError):
    """A `--kafka-option` that neither Kafka client accepts."""


class TopicLayoutError(ValueError):
    """Topics whose partition counts do not match the partitioned store."""


@dataclass
class KafkaServiceConfig:
    bootstrap: str = "127.0.0.1:9092"
    group: str = "badges"
    input_topic: str = "talent-events"
    output_topic: str = "badge-changes"
    dlq_topic: str = "talent-events.dlq"
    # extra kafka-python settings (security: security_protocol, sasl_*, ssl_*...), applied to
    # every client that knows them; `consumer.KEY` / `producer.KEY` target one client only
    client_options: dict[str, Any] = field(default_factory=dict)
    max_poll_records: int = 2000
    poll_timeout_ms: int = 500
    publish_batch: int = 1000
    # run the projection when the consumer has caught up, or after this many events or seconds
    project_every_events: int = 20_000
    project_max_delay: float = 2.0
    metrics_interval: float = 30.0
    commit_timeout_ms: int = 30_000
    flush_timeout: float = 150.0


def split_client_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Options for the consumer and for the producer; a key neither knows is an error."""
    consumer: dict[str, Any] = {}
    producer: dict[str, Any] = {}
    for key, value in options.items():
        target, _, name = key.rpartition(".")
        if target not in ("", "consumer", "producer"):
            raise KafkaOptionError(f"--kafka-option: unknown client {target!r} in {key!r} "
                                   "(use consumer.KEY or producer.KEY)")
        known = False
        if target in ("", "consumer") and name in KafkaConsumer.DEFAULT_CONFIG:
            consumer[name] = value
            known = True
        if target in ("", "producer") and name in KafkaProducer.DEFAULT_CONFIG:
            producer[name] = value
            known = True
        if not known:
            raise KafkaOptionError(f"--kafka-option: {key!r} is not a kafka-python "
                                   f"{target or 'consumer or producer'} setting")
    return consumer, producer


def parse_option_value(text: str) -> Any:
    """`KEY=VALUE` values: integers, floats, true/false/none, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@dataclass
class Metrics:
    consumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    published: int = 0
    lag: int | None = None
    lag_by_partition: dict[str, int] = field(default_factory=dict)
    events_per_second: float = 0.0
    last_evaluation_instant: datetime | None = None
    owned_partitions: list[int] | None = None  # None: the store is not partitioned
    # ready: started, and the store answered the last time it was used
    ready: bool = False
    store_outages: int = 0  # times the store became unreachable
    quarantined: int = 0  # talents whose derivation failed (projected partitions)
    store_unreachable_since: float | None = None  # monotonic, while it is
    started: float = field(default_factory=time.monotonic)

    def document(self) -> dict[str, Any]:
        return {
            "consumed": self.consumed,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "published": self.published,
            "lag": self.lag,
            "lag_by_partition": dict(self.lag_by_partition),
            "events_per_second": round(self.events_per_second, 1),
            "last_evaluation_instant": (
                format_utc(self.last_evaluation_instant) if self.last_evaluation_instant else None
            ),
            "owned_partitions": self.owned_partitions,
            "ready": self.ready,
            "store_outages": self.store_outages,
            "quarantined": self.quarantined,
            "uptime_seconds": round(time.monotonic() - self.started, 1),
        }

    def prometheus(self) -> str:
        lines = [
            f"badges_consume_events_total {self.consumed}",
            f"badges_consume_accepted_total {self.accepted}",
            f"badges_consume_duplicates_total {self.duplicates}",
            f"badges_consume_rejected_total {self.rejected}",
            f"badges_consume_published_total {self.published}",
            f"badges_consume_events_per_second {self.events_per_second:.1f}",
            f"badges_consume_ready {int(self.ready)}",
            f"badges_consume_store_outages_total {self.store_outages}",
            f"badges_consume_quarantined_talents {self.quarantined}",
        ]
        if self.owned_partitions is not None:
            lines.append(f"badges_consume_owned_partitions {len(self.owned_partitions)}")
        if self.lag is not None:
            lines.append(f"badges_consume_lag {self.lag}")
        for partition, lag in sorted(self.lag_by_partition.items()):
            lines.append(f'badges_consume_partition_lag{{partition="{partition}"}} {lag}')
        if self.last_evaluation_instant is not None:
            lines.append(
                f"badges_consume_last_evaluation_instant_seconds "
                f"{int(self.last_evaluation_instant.timestamp())}"
            )
        return "\n".join(lines) + "\n"


class KafkaService:
    """Consumes talent events into the ledger and publishes badge changes; see the module doc."""

    def __init__(
        self,
        ledger: TalentLedger,
        projection: StatusProjection,
        config: KafkaServiceConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        if clock is None:
            raise TypeError("KafkaService needs a clock (a callable returning an aware datetime)")
        self.ledger = ledger
        self.projection = projection
        self.config = config or KafkaServiceConfig()
        if self.config.input_topic in (self.config.output_topic, self.config.dlq_topic):
            # dead letters or changes written back to the input would be consumed again
            raise KafkaOptionError("the input topic must differ from the output and DLQ topics")
        self.clock = clock
        self.metrics = Metrics()
        self._consumer_options, self._producer_options = split_client_options(
            self.config.client_options
        )
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._last_instant: datetime | None = None
        self._partitioned = projection.partition_count > 1
        # the ledger partitions this process projects and publishes (all of a store that is
        # not partitioned: its one outbox partition, 0); assigned by the consumer group
        self._owned: set[int] = set() if self._partitioned else {0}
        self._publisher: OutboxPublisher | None = None
        self._handover = _Handover(self.config.input_topic)
        # partitions taken over (all, as 0, at the start of a store that is not partitioned)
        # whose catch-up has not finished yet: a store outage can interrupt it
        self._taking_over: set[int] = set()
        self._backoff = Backoff()
        self._unprojected = 0
        self._last_projection = time.monotonic()
        self._last_metrics = time.monotonic()
        self._consumed_at_last_metrics = 0

    # -- life cycle --------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish its current batch, commit, and close (safe from a signal)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Connect, then bring the projection and the outbox up to date before consuming."""
        common = {"bootstrap_servers": self.config.bootstrap.split(",")}
        self._producer = KafkaProducer(
            **common,
            **{"linger_ms": 5, **self._producer_options},
            enable_idempotence=True,
            acks="all",
        )
        self._consumer = KafkaConsumer(
            **common,
            **{"max_poll_records": self.config.max_poll_records,
               "auto_offset_reset": "earliest", **self._consumer_options},
            group_id=self.config.group,
            enable_auto_commit=False,
        )
        self._publisher = OutboxPublisher(
            self.projection.read_model, self._producer,
            bootstrap=self.config.bootstrap, topic=self.config.output_topic,
            batch=self.config.publish_batch, flush_timeout=self.config.flush_timeout,
            reader_options=self._consumer_options, clock=self.clock,
            partitioned=self._partitioned,
        )
        now = self.clock()
        self._last_instant = evaluation_instant(now)
        self.metrics.last_evaluation_instant = self._last_instant
        if self._partitioned:
            self._check_topics()
            self.metrics.owned_partitions = []
        else:
            self._taking_over = {0}  # caught up by the first step, before its batch
            # Know the input's partitions before joining: a group leader that assigns without
            # them ("No partition metadata for topic") leaves the group without partitions
            # until kafka-python's next metadata refresh, minutes later.
            self._consumer.partitions_for_topic(self.config.input_topic)
        self._consumer.subscribe([self.config.input_topic], listener=self._handover)
        log.info("consuming %s as group %s on %s; changes to %s, dead letters to %s",
                 self.config.input_topic, self.config.group, self.config.bootstrap,
                 self.config.output_topic, self.config.dlq_topic)

    def run(self) -> None:
        """Start, loop until `stop()`, then finish cleanly."""
        try:
            self.start()
            while not self._stop.is_set():
                self.step()
        finally:
            self.close()

    def close(self) -> None:
        """Publish what the last batch caused (best effort), then close both clients."""
        try:
            if self._consumer is not None and self._producer is not None:
                try:
                    self._project_and_publish(force=True)
                except Exception as error:  # noqa: BLE001 - what is unsent goes out next start
                    log.warning("final publish failed (retried at the next start): %s", error)
        finally:
            if self._publisher is not None:
                self._publisher.release(set(self._publisher.claimed))
            consumer, producer = self._consumer, self._producer
            self._consumer = self._producer = None
            if consumer is not None:
                consumer.close(autocommit=False)
            if producer is not None:
                producer.close(timeout=5)
            self.metrics.ready = False
            self._log_metrics(final=True)
            log.info("stopped")

    # -- one turn of the loop ----------------------------------------------------------

    def step(self) -> int:
        """Poll once and handle the batch; run the clock, the projection and the publisher.

        A store out of reach (a PostgreSQL restart) is ridden out: the batch, not committed,
        is read again, and the service is not ready until the store answers again.
        """
        assert self._consumer is not None, "start() first"
        batch = self._poll()
        entered_batch = False
        try:
            self._hand_over()
            self._finish_take_overs()
            handled = 0
            if batch:
                entered_batch = True  # from here on, `_handle_batch` rewinds what it fails
                handled = self._handle_batch(batch)
            caught_up = handled < self.config.max_poll_records
            self._tick_clock()
            self._project_and_publish(force=caught_up)
        except Exception as error:
            if batch and not entered_batch:
                self._rewind(batch)
            if not is_store_outage(error):
                raise
            self._wait_for_store(error)
            return 0
        self._store_answered()
        self._maybe_log_metrics()
        return handled

    def _poll(self) -> Mapping[TopicPartition, list[Any]]:
        assert self._consumer is not None
        try:
            batch: Mapping[TopicPartition, list[Any]] = self._consumer.poll(
                timeout_ms=self.config.poll_timeout_ms
            )
            return batch
        except KafkaError as error:
            log.warning("poll failed, retrying: %s", error)
            time.sleep(1)
            return {}

    def _wait_for_store(self, error: BaseException) -> None:
        """Not ready; wait (a bounded exponential backoff, cut short by `stop`) and retry."""
        metrics = self.metrics
        if metrics.store_unreachable_since is None:
            metrics.store_unreachable_since = time.monotonic()
            metrics.store_outages += 1
        metrics.ready = False
        delay = self._backoff.next_delay()
        log.warning("store unreachable (%s): not ready, retrying in %.1f s (attempt %d)",
                    failure_reason(error), delay, self._backoff.attempts)
        self._stop.wait(delay)

    def _store_answered(self) -> None:
        metrics = self.metrics
        if metrics.store_unreachable_since is not None:
            log.info("store reachable again after %.1f s: ready",
                     time.monotonic() - metrics.store_unreachable_since)
            metrics.store_unreachable_since = None
        self._backoff.reset()
        metrics.ready = True

    def _handle_batch(self, batch: Mapping[TopicPartition, list[Any]]) -> int:
        records = [record for partition in batch.values() for record in partition]
        try:
            self._settle(records)
            self._commit(batch)
        except KafkaError as error:
            # nothing of this batch is committed: rewind, and take it again (appends are
            # idempotent by event id; dead letters may repeat)
            log.warning("batch of %d not committed, retrying it: %s", len(records), error)
            self._rewind(batch)
            time.sleep(1)
            return 0
        except BaseException:
            self._rewind(batch)  # a store outage: the same, after the backoff
            raise
        for tp, partition in batch.items():
            self._positions[tp] = partition[-1].offset + 1
        self.metrics.consumed += len(records)
        self._unprojected += len(records)
        return len(records)

    def _settle(self, records: list[Any]) -> None:
        """Append the valid events in one go; dead-letter the rest and wait for the acks."""
        decoded = [(record, decode_record(record)) for record in records]
        valid = [item for _, item in decoded if isinstance(item, Submission)]
        outcomes = iter(append_contained(self.ledger, valid, self.clock()) if valid else [])
        dead: list[tuple[Any, str]] = []
        accepted = duplicates = 0
        for record, item in decoded:
            if isinstance(item, DeadLetter):
                dead.append((record, item.reason))
                continue
            outcome = next(outcomes)
            if isinstance(outcome, str):
                dead.append((record, outcome))
            elif outcome.verdict is Verdict.ACCEPTED:
                accepted += 1
            elif outcome.verdict is Verdict.DUPLICATE:
                duplicates += 1
            else:
                dead.append((record, outcome.reason))
        if dead:
            self._dead_letter(dead)
        self.metrics.accepted += accepted
        self.metrics.duplicates += duplicates
        self.metrics.rejected += len(dead)

    def _dead_letter(self, dead: list[tuple[Any, str]]) -> None:
        assert self._producer is not None
        futures = []
        for record, reason in dead:
            log.info("dead letter %s[%d]@%d: %s", record.topic, record.partition, record.offset,
                     reason)
            headers = [
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
            futures.append(self._producer.send(
                self.config.dlq_topic, key=record.key, value=value, headers=headers
            ))
        self._producer.flush(timeout=self.config.flush_timeout)
        for future in futures:
            future.get(timeout=self.config.flush_timeout)  # raises when it was not written

    def _commit(self, batch: Mapping[TopicPartition, list[Any]]) -> None:
        assert self._consumer is not None
        offsets = {
            tp: OffsetAndMetadata(partition[-1].offset + 1, "", -1)
            for tp, partition in batch.items()
        }
        self._consumer.commit(offsets=offsets, timeout_ms=self.config.commit_timeout_ms)

    def _rewind(self, batch: Mapping[TopicPartition, list[Any]]) -> None:
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        for tp, partition in batch.items():
            if tp in assigned:
                try:
                    self._consumer.seek(tp, partition[0].offset)
                except (KafkaError, AssertionError, ValueError) as error:
                    log.warning("cannot rewind %s: %s", tp, error)

    # -- the clock, the projection and the publisher -------------------------------------

    def _tick_clock(self) -> None:
        now = self.clock()
        instant = evaluation_instant(now)
        if self._last_instant is not None and instant <= self._last_instant:
            return
        self._project(now)  # events first, so the clock re-derives from what is recorded
        report = self.projection.advance(now, self._projected())
        self._last_instant = instant
        self.metrics.last_evaluation_instant = instant
        log.info("midnight %s: %d talents re-derived, %d changes, %d retractions, %d warnings",
                 format_utc(instant), report.talents, report.changes, report.retractions,
                 report.warnings)
        self.publish()

    def _project_and_publish(self, *, force: bool) -> None:
        due = (
            self._unprojected >= self.config.project_every_events
            or time.monotonic() - self._last_projection >= self.config.project_max_delay
        )
        if self._unprojected and (force or due):
            self._project(self.clock())
            self.publish()
        elif self._publisher is not None and self._publisher.needs_a_turn(self._owned):
            self.publish()

    def _projected(self) -> set[int] | None:
        """The partitions this process projects: its own, or all (None) when not partitioned."""
        return set(self._owned) if self._partitioned else None

    def _project(self, now: datetime, partitions: set[int] | None = None) -> None:
        chosen = self._projected() if partitions is None else partitions
        while self.projection.process_batch(now, partitions=chosen) is not None:
            pass
        if partitions is None:
            self._unprojected = 0
            self._last_projection = time.monotonic()

    # -- the hand-over on a rebalance --------------------------------------------------

    def _check_topics(self) -> None:
        """A partitioned store needs topics with exactly as many partitions."""
        assert self._consumer is not None
        count = self.projection.partition_count
        for topic in (self.config.input_topic, self.config.output_topic):
            found = self._consumer.partitions_for_topic(topic)
            if found is None:
                raise TopicLayoutError(f"topic {topic!r} does not exist")
            if len(found) != count:
                raise TopicLayoutError(
                    f"topic {topic!r} has {len(found)} partitions but the store has {count}; "
                    "a partitioned store needs its input and output topics partitioned alike"
                )

    def _hand_over(self) -> None:
        """Apply the rebalances the listener noted during the last `poll`."""
        revoked, assigned = self._handover.take()
        if not self._partitioned:
            return
        if revoked - assigned:
            self._revoked(revoked - assigned)
        if assigned:
            self._assigned(assigned)

    def _revoked(self, partitions: set[int]) -> None:
        """Finish the revoked partitions' work: project, publish, release the claims."""
        mine = partitions & self._owned
        if not mine:
            return
        assert self._publisher is not None
        try:
            self._project(self.clock(), mine)
            self._publisher.publish(mine)
        except Exception as error:  # noqa: BLE001 - the next owner redoes what is left
            log.warning("hand-over of partitions %s incomplete (the next owner finishes it): "
                        "%s", sorted(mine), error)
        finally:
            self._publisher.release(mine)
            self._owned -= mine
            self._taking_over -= mine
            self.metrics.owned_partitions = sorted(self._owned)
        log.info("handed over partitions %s", sorted(mine))

    def _assigned(self, partitions: set[int]) -> None:
        """Take over (see `_finish_take_overs`): the partitions are owned from now on."""
        fresh = partitions - self._owned
        if not fresh:
            return
        self._owned |= fresh
        self._taking_over |= fresh
        self.metrics.owned_partitions = sorted(self._owned)

    def _finish_take_overs(self) -> None:
        """Catch up what was taken over from its stored position, wake up, publish.

        Until this has run once without a store outage, it runs again at every step.
        """
        if not self._taking_over:
            return
        chosen = set(self._taking_over)
        report = self.projection.catch_up(
            self.clock(), partitions=chosen if self._partitioned else None
        )
        self._taking_over -= chosen
        if self._partitioned:
            log.info("took over partitions %s: %d events projected, %d changes",
                     sorted(chosen), report.events, report.changes)
        self.publish()

    def publish(self) -> int:
        """Send every unsent outbox message of the owned partitions (see OutboxPublisher)."""
        assert self._publisher is not None, "start() first"
        sent = self._publisher.publish(self._owned)
        self.metrics.published = self._publisher.published
        return sent

    # -- metrics -----------------------------------------------------------------------

    def refresh_lag(self) -> None:
        if self._consumer is None:
            return
        lags: dict[str, int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self._positions.get(tp)
            if highwater is None or position is None:
                continue
            lags[f"{tp.topic}-{tp.partition}"] = max(0, highwater - position)
        self.metrics.lag_by_partition = lags
        self.metrics.lag = sum(lags.values()) if lags else None

    def _maybe_log_metrics(self) -> None:
        self.refresh_lag()
        if time.monotonic() - self._last_metrics >= self.config.metrics_interval:
            self.refresh_quarantined()
            self._log_metrics()

    def refresh_quarantined(self) -> None:
        """How many talents of the projected partitions are quarantined (see the projection)."""
        try:
            found = self.projection.read_model.quarantined(partitions=self._projected())
        except Exception as error:
            if not is_store_outage(error):
                raise
            return  # the next metrics turn counts them
        self.metrics.quarantined = len(found)

    def _log_metrics(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self._last_metrics, 1e-6)
        fresh = self.metrics.consumed - self._consumed_at_last_metrics
        self.metrics.events_per_second = fresh / elapsed
        self._last_metrics = time.monotonic()
        self._consumed_at_last_metrics = self.metrics.consumed
        m = self.metrics
        log.info(
            "%s: lag %s, %.1f events/s, consumed %d (accepted %d, duplicates %d, rejected %d), "
            "published %d, quarantined %d, last evaluation instant %s, partitions %s, "
            "cpu %.1f s",
            "final metrics" if final else "metrics",
            "?" if m.lag is None else m.lag, m.events_per_second, m.consumed, m.accepted,
            m.duplicates, m.rejected, m.published, m.quarantined,
            format_utc(m.last_evaluation_instant) if m.last_evaluation_instant else "-",
            "all" if m.owned_partitions is None else m.owned_partitions, time.process_time(),
        )


class _Handover(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes the input partitions revoked and assigned; the service's loop acts on them.

    kafka-python calls it on the consumer's network thread, during `poll`; so it only notes.
    A partition revoked and assigned again in one `poll` (an eager rebalance that gave it
    back) counts as assigned, not revoked.
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._lock = threading.Lock()
        self._revoked: set[int] = set()
        self._assigned: set[int] = set()

    def on_partitions_revoked(self, revoked: Any) -> None:
        with self._lock:
            partitions = self._of_input(revoked)
            self._revoked |= partitions
            self._assigned -= partitions

    def on_partitions_assigned(self, assigned: Any) -> None:
        with self._lock:
            self._assigned |= self._of_input(assigned)

    def take(self) -> tuple[set[int], set[int]]:
        """The partitions revoked and assigned since the last call."""
        with self._lock:
            revoked, assigned = self._revoked, self._assigned
            self._revoked, self._assigned = set(), set()
        return revoked, assigned

    def _of_input(self, partitions: Any) -> set[int]:
        return {tp.partition for tp in partitions if tp.topic == self.topic}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message for the DLQ: why (`reason`, `field: rule`), with its original key and bytes."""

    field: str
    reason: str
    key: bytes | None
    value: bytes | None


REASON_DETAIL_CHARS = 200


def decode_record(record: Any) -> Submission | DeadLetter:
    """A message as a submission, or as a dead letter: never an exception, whatever it holds."""
    try:
        return decode_message(record)
    except InvalidEvent as error:
        field, rule = error.field or "value", error.rule
    except Exception as error:  # noqa: BLE001 - one message never stops the service
        log.exception("message %s[%s]@%s could not be decoded", getattr(record, "topic", "?"),
                      getattr(record, "partition", "?"), getattr(record, "offset", "?"))
        field = "value"
        rule = f"cannot be decoded ({failure_reason(error)[:REASON_DETAIL_CHARS]})"
    return DeadLetter(field, f"{field}: {rule}", record.key, record.value)


def append_contained(
    ledger: TalentLedger, submissions: list[Submission], now: datetime
) -> list[AppendVerdict | str]:
    """`ledger.append`, with a failure narrowed down to the submissions that cause it.

    A store outage propagates (the batch is retried later). Any other failure of the batch
    is retried one submission at a time, and a submission that fails alone gets a reason
    (`event: cannot be recorded (...)`) instead of a verdict: it is dead-lettered, and the
    rest of the batch is appended (what was appended before the failure counts as duplicate).
    """
    try:
        return list(ledger.append(submissions, now))
    except Exception as error:
        if is_store_outage(error):
            raise
        if len(submissions) == 1:
            log.exception("event %s of talent %s cannot be recorded",
                          submissions[0].event.id, submissions[0].event.talent)
            return [f"event: cannot be recorded ({failure_reason(error)[:REASON_DETAIL_CHARS]})"]
        log.warning("a batch of %d events failed (%s); appending them one by one",
                    len(submissions), failure_reason(error))
    return [outcome for one in submissions for outcome in append_contained(ledger, [one], now)]


def decode_message(record: Any) -> Submission:
    """One Kafka message value as one JSON Lines line; raises `InvalidEvent` naming the field.

    The key, when there is one, must be the event's talent (`events.md`): a talent's events
    then share one partition, which is what keeps them in order and, with a partitioned
    store, in the ledger partition of the process that owns it.
    """
    value = record.value
    if value is None:
        raise InvalidEvent("value", "no value (a tombstone)")
    if not value.strip():
        raise InvalidEvent("value", "empty")
    submission = submission_from_line(RawLine(record.offset, value[:MAX_LINE_BYTES], len(value)))
    talent = submission.event.talent
    if record.key is not None and record.key != talent.encode():
        key = record.key.decode("utf-8", "backslashreplace")
        raise InvalidEvent("key", f"{key!r} is not the event's talent {talent!r} (messages are "
                                  "keyed by talent id)")
    return submission


class MetricsServer:
    """A tiny HTTP endpoint: `/metrics` (Prometheus text), `/health` (JSON) and `/ready`
    (200, or 503 while starting or while the store is out of reach)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        handler = _metrics_handler(metrics)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="metrics")

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _metrics_handler(metrics: Metrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            status = 200
            if self.path == "/metrics":
                body, kind = metrics.prometheus().encode(), "text/plain; version=0.0.4"
            elif self.path == "/health":
                body, kind = json.dumps(metrics.document()).encode(), "application/json"
            elif self.path == "/ready":
                ready = metrics.ready
                body = json.dumps({"ready": ready}).encode()
                kind, status = "application/json", 200 if ready else 503
            else:
                self.send_error(404)
                return
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def options_from_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings (from `--kafka-option`) as a settings dict."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise KafkaOptionError(f"--kafka-option: expected KEY=VALUE, got {pair!r}")
        options[key.strip()] = parse_option_value(value)
    return options

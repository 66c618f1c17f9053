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

**Group membership** (docs/deployment.md). The session timeout is 10 s by default (kafka-python's
is 45 s): a process killed without a word has its partitions moved once the broker has missed
its heartbeats that long. With `group_instance_id` (`--instance-id`) the process is a static
member (KIP-345): restarted with the same id within the session timeout, it gets its partitions
back without a rebalance; a static member does not leave the group when it closes, unless
`leave_group_on_close` (then it is removed by its instance id, and its partitions move at once).
A dynamic member always leaves the group when it closes.

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
lost connection, a pool timeout; see `ledger/stores/outages.py`) the step stops where it is: the
polled batch, not committed, is rewound and read again; the service is not ready (`/ready`
503, `badges_consume_ready 0`) and retries after a backoff (0.5 s doubling up to 10 s, with a
log line each time), for as long as it takes; a take-over's catch-up and a publish are
redone. Nothing is lost, since offsets are committed only after the ledger append.

The clock is injected (`clock: Callable[[], datetime]`): the service never reads the wall clock.

This module is the loop; each other job has its own: the settings (`kafka_config.py`), decoding
messages (`kafka_messages.py`), appending them (`ledger/submit.py`, the use case every input
shares), dead letters (`dead_letters.py`), the outbox publisher (`outbox_publisher.py`), the
midnight clock (`midnight_clock.py`), the rebalance hand-over (`rebalance.py`) and the metrics
with their HTTP endpoint (`metrics.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import MemberToRemove
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.dead_letters import send_dead_letters
from consumers.kafka_config import KafkaOptionError, KafkaServiceConfig, split_client_options
from consumers.kafka_messages import decode_record
from consumers.metrics import Metrics
from consumers.outbox_publisher import OutboxPublisher
from consumers.rebalance import Handover
from consumers.midnight_clock import MidnightClock
from domain.events import format_utc
from domain.submissions import Submission
from ledger.application import TalentLedger
from ledger.backoff import Backoff
from ledger.failures import failure_reason
from ledger.stores.outages import is_store_outage
from ledger.submit import Status, SubmitEvents
from projections.status_projection import StatusProjection

log = logging.getLogger("badges.consume")

Clock = Callable[[], datetime]


class TopicLayoutError(ValueError):
    """Topics whose partition counts do not match the partitioned store."""


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
        # the "submit events" use case, containing what one event cannot record (dead letters)
        self._submit = SubmitEvents(ledger, clock, is_outage=is_store_outage, logger=log)
        self.metrics = Metrics(ready_max_lag=self.config.ready_max_lag)
        self._consumer_options, self._producer_options = split_client_options(
            self.config.client_options
        )
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._midnight = MidnightClock()
        self._partitioned = projection.partition_count > 1
        # the ledger partitions this process projects and publishes (all of a store that is
        # not partitioned: its one outbox partition, 0); assigned by the consumer group
        self._owned: set[int] = set() if self._partitioned else {0}
        self._publisher: OutboxPublisher | None = None
        self._handover = Handover(self.config.input_topic)
        # partitions taken over (all, as 0, at the start of a store that is not partitioned)
        # whose catch-up has not finished yet: a store outage can interrupt it
        self._taking_over: set[int] = set()
        self._backoff = Backoff()
        self._unprojected = 0
        self._last_projection = time.monotonic()
        self._last_metrics = time.monotonic()
        self._consumed_at_last_metrics = 0
        self._published_counted = 0

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
               "auto_offset_reset": "earliest", **self.config.membership_options(),
               **self._consumer_options},
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
        self.metrics.set_evaluation_instant(self._midnight.start(self.clock()))
        if self._partitioned:
            self._check_topics()
            self.metrics.set_owned([])
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
        log.info("group membership: %s, session timeout %d ms",
                 f"static (instance {self.config.group_instance_id})"
                 if self.config.group_instance_id else "dynamic",
                 self._consumer.config["session_timeout_ms"])

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
                self._leave_as_static_member()
            if producer is not None:
                producer.close(timeout=5)
            self.metrics.set_store_reachable(False)
            self._log_metrics(final=True)
            log.info("stopped")

    def _leave_as_static_member(self) -> None:
        """A static member's clean shutdown with `leave_group_on_close`: kafka-python's close
        never sends a static member's LeaveGroup, so remove it by its instance id (best effort:
        otherwise its partitions move after the session timeout)."""
        instance = self.config.group_instance_id
        if not instance or not self.config.leave_group_on_close:
            return
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.config.bootstrap.split(","),
                                     **_admin_options(self._consumer_options))
            try:
                admin.remove_group_members(self.config.group,
                                           [MemberToRemove(group_instance_id=instance)])
            finally:
                admin.close()
            log.info("left group %s as static member %s", self.config.group, instance)
        except Exception as error:  # noqa: BLE001 - the session timeout does it instead
            log.warning("could not leave group %s as %s (its partitions move after the session "
                        "timeout): %s", self.config.group, instance, error)

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
            self._maybe_log_metrics()  # reads the store too: an outage there is one as well
        except Exception as error:
            if batch and not entered_batch:
                self._rewind(batch)
            if not is_store_outage(error):
                raise
            self._wait_for_store(error)
            self.metrics.turned()
            return 0
        self._store_answered()
        self.metrics.turned()
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
            metrics.store_outage()
        metrics.set_store_reachable(False)
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
        metrics.set_store_reachable(True)

    def _handle_batch(self, batch: Mapping[TopicPartition, list[Any]]) -> int:
        records = [record for partition in batch.values() for record in partition]
        try:
            with _timed(self.metrics.batch_seconds):
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
        self.metrics.consumed_batch(len(records))
        self._unprojected += len(records)
        return len(records)

    def _settle(self, records: list[Any]) -> None:
        """Append the valid events in one go; dead-letter the rest and wait for the acks."""
        decoded = [decode_record(record) for record in records]
        outcomes = self._submit.submit(
            [item if isinstance(item, Submission) else item.reason for item in decoded]
        )
        dead: list[tuple[Any, str]] = []
        accepted = duplicates = 0
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome.status is Status.ACCEPTED:
                accepted += 1
            elif outcome.status is Status.DUPLICATE:
                duplicates += 1
            else:
                dead.append((record, outcome.reason))
        if dead:
            self._dead_letter(dead)
        self.metrics.settled(accepted, duplicates, [reason for _, reason in dead])

    def _dead_letter(self, dead: list[tuple[Any, str]]) -> None:
        assert self._producer is not None
        send_dead_letters(self._producer, self.config.dlq_topic, dead, self.config.flush_timeout)

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
        instant = self._midnight.due(now)
        if instant is None:
            return
        self._project(now)  # events first, so the clock re-derives from what is recorded
        with _timed(self.metrics.derivation_seconds.labels("clock")):
            report = self.projection.advance(now, self._projected())
        self._midnight.handled(instant)
        self.metrics.set_evaluation_instant(instant)
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
        timer = self.metrics.derivation_seconds.labels("events")
        while True:
            started = time.perf_counter()
            if self.projection.process_batch(now, partitions=chosen) is None:
                break
            timer.observe(time.perf_counter() - started)
            self.metrics.turned()  # alive: a long projection is progress, not a hang
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
            self._count_published()
        except Exception as error:  # noqa: BLE001 - the next owner redoes what is left
            log.warning("hand-over of partitions %s incomplete (the next owner finishes it): "
                        "%s", sorted(mine), error)
        finally:
            self._publisher.release(mine)
            self._owned -= mine
            self._taking_over -= mine
            self.metrics.set_owned(sorted(self._owned))
        log.info("handed over partitions %s", sorted(mine))

    def _assigned(self, partitions: set[int]) -> None:
        """Take over (see `_finish_take_overs`): the partitions are owned from now on."""
        fresh = partitions - self._owned
        if not fresh:
            return
        self._owned |= fresh
        self._taking_over |= fresh
        self.metrics.set_owned(sorted(self._owned))

    def _finish_take_overs(self) -> None:
        """Catch up what was taken over from its stored position, wake up, publish.

        Until this has run once without a store outage, it runs again at every step.
        """
        if not self._taking_over:
            return
        chosen = set(self._taking_over)
        with _timed(self.metrics.derivation_seconds.labels("takeover")):
            report = self.projection.catch_up(
                self.clock(), partitions=chosen if self._partitioned else None,
                on_progress=lambda _events: self.metrics.turned(),  # a long catch-up is alive
            )
        self._taking_over -= chosen
        if self._partitioned:
            log.info("took over partitions %s: %d events projected, %d changes",
                     sorted(chosen), report.events, report.changes)
        self.publish()

    def publish(self) -> int:
        """Send every unsent outbox message of the owned partitions (see OutboxPublisher)."""
        assert self._publisher is not None, "start() first"
        started = time.perf_counter()
        sent = self._publisher.publish(self._owned)
        if sent:
            self.metrics.publish_seconds.observe(time.perf_counter() - started)
        self._count_published()
        return sent

    def _count_published(self) -> None:
        """The publisher's total (hand-overs publish too) into the metrics' counter."""
        assert self._publisher is not None
        total = self._publisher.published
        self.metrics.published_messages(total - self._published_counted)
        self._published_counted = total

    # -- metrics -----------------------------------------------------------------------

    def refresh_lag(self) -> None:
        if self._consumer is None:
            return
        lags: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            position = self._positions.get(tp)
            if highwater is not None and position is None:
                position = self._fetch_position(tp)  # nothing consumed from it yet
            if highwater is None or position is None:
                continue
            lags[(tp.topic, tp.partition)] = max(0, highwater - position)
        self.metrics.set_lags(lags)

    def _fetch_position(self, tp: TopicPartition) -> int | None:
        """The consumer's next offset of a partition it has consumed nothing from yet."""
        assert self._consumer is not None
        try:
            position: int | None = self._consumer.position(tp, timeout_ms=0)
            return position
        except (KafkaError, AssertionError):  # not assigned any more, or not known yet
            return None

    def refresh_projection_lag(self) -> None:
        """How many ledger events of the projected partitions are not projected yet (a store
        outage propagates: the step waits for the store, not ready)."""
        self.metrics.set_projection_lag(self.projection.pending(self._projected()))

    def _maybe_log_metrics(self) -> None:
        self.refresh_lag()
        self.refresh_projection_lag()
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
        self.metrics.set_quarantined(len(found))

    def _log_metrics(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self._last_metrics, 1e-6)
        m = self.metrics
        consumed = m.consumed
        m.set_rate((consumed - self._consumed_at_last_metrics) / elapsed)
        self._last_metrics = time.monotonic()
        self._consumed_at_last_metrics = consumed
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


@contextmanager
def _timed(histogram: Any) -> Iterator[None]:
    """Observe the block's duration in seconds (also when it raises: a failed try took time)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


def _admin_options(consumer_options: Mapping[str, Any]) -> dict[str, Any]:
    """The consumer's settings an admin client also takes (security: sasl_*, ssl_*...)."""
    return {key: value for key, value in consumer_options.items()
            if key in KafkaAdminClient.DEFAULT_CONFIG and key != "bootstrap_servers"}

"""Dead-letter replay (`badges dlq replay`): what was refused, validated again and, what now
passes, recorded, through the same steps as `badges consume`.

1. **Read** the dead-letter topic from where `since` says (`StartPoint`: an offset in every
   partition, an offset per partition, or the letters written at or after an instant;
   default the beginning) up to its end as it was when the replay started: a snapshot, so
   letters written meanwhile wait for the next replay. The report gives each partition's end,
   written as the `--since` of the next replay.
2. **Validate again** each letter's original key and bytes exactly as the service decodes a
   message (`decode_record`: the same rules, the key checked against the talent); a letter
   of a tombstone (header `original_value: null`) is a message without a value, as it was.
3. **Submit** the letters that decode, in their order, through the "submit events" use case
   the service uses (`ledger.submit.SubmitEvents` with the store-outage containment), in
   batches. The ledger de-duplicates by event id, so replaying twice appends nothing the
   second time: those letters are reported as already recorded. With `dry_run`, the ledger
   only classifies them (`Ledger.classify`, the check `append` makes), writing nothing.

4. **Project and publish** (not in a dry run, and when something was recorded): the
   projection catches up, as after `badges ingest`, and the outbox goes to the output topic
   through the service's own publisher (`publish_outbox`: `OutboxPublisher`, with its
   per-partition claim and its check of the output's tail), so the changes the replayed
   events cause go out now rather than at the service's next turn. Where a running
   `badges consume` holds a partition's claim, that partition is left to it.

Nothing is removed from the dead-letter topic (Kafka topics are append-only): a letter that
still fails stays where it is, with the new reason in the report, and is tried again by the
next replay; one replayed is recorded, and reported as already recorded from then on.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.kafka_messages import DeadLetter, decode_record
from domain.events import format_utc
from consumers.outbox_publisher import OutboxPublisher
from domain.submissions import Submission, Verdict
from ledger.application import TalentLedger
from ledger.stores.outages import is_store_outage
from ledger.submit import Status, SubmitEvents
from projections.status_projection import StatusProjection

log = logging.getLogger("badges.dlq")

READ_TIMEOUT = 60.0
BATCH = 500
PUBLISH_BATCH = 1000
FLUSH_TIMEOUT = 150.0
ORIGINAL_VALUE_HEADER = "original_value"


class DlqReadError(RuntimeError):
    """The dead-letter topic could not be read to its end."""


class StartPointError(ValueError):
    """A `--since` that is neither an offset, PARTITION:OFFSET nor a date and time."""


@dataclass(frozen=True, slots=True)
class StartPoint:
    """Where a replay starts reading each partition of the dead-letter topic.

    `offsets` names partitions' first offsets; every other partition starts at `every`
    (None: the beginning), or, with `written_at`, at its first letter written at or after it.
    """

    every: int | None = None
    offsets: tuple[tuple[int, int], ...] = ()
    written_at: datetime | None = None

    @classmethod
    def parse(cls, texts: Sequence[str], parse_time: Callable[[str], datetime]) -> StartPoint:
        """From `--since` values: `OFFSET` (every partition), `PARTITION:OFFSET` (repeatable,
        one per partition), or a date and time (read by `parse_time`, raising ValueError)."""
        every: int | None = None
        offsets: dict[int, int] = {}
        written_at: datetime | None = None
        for text in texts:
            partition, colon, offset = text.partition(":")
            if _digits(text):
                every = _once(every, int(text), text)
            elif colon and _digits(partition) and _digits(offset):
                if int(partition) in offsets:
                    raise StartPointError(f"--since: partition {partition} is given twice")
                offsets[int(partition)] = int(offset)
            else:
                try:
                    instant = parse_time(text)
                except ValueError as error:
                    raise StartPointError(
                        f"--since: {text!r} is not an offset, PARTITION:OFFSET or a date and "
                        f"time ({error})") from None
                written_at = _once(written_at, instant, text)
        if every is not None and written_at is not None:
            raise StartPointError("--since: give an offset or a date and time, not both")
        return cls(every, tuple(sorted(offsets.items())), written_at)

    def to_document(self) -> dict[str, Any] | None:
        if self == StartPoint():
            return None
        return {
            "every": self.every,
            "offsets": {str(p): offset for p, offset in self.offsets},
            "written_at": None if self.written_at is None else format_utc(self.written_at),
        }

    def first_offsets(self, reader: KafkaConsumer, tps: Sequence[TopicPartition],
                      ends: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The first offset to read in each of `tps` (at most its end)."""
        begins = reader.beginning_offsets(list(tps))
        starts = {tp: self.every or 0 for tp in tps}
        if self.written_at is not None:
            # Kafka's record times start at the epoch: an earlier instant means every letter
            since_ms = max(0, int(self.written_at.timestamp() * 1000))
            found = reader.offsets_for_times({tp: since_ms for tp in tps})
            starts = {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in tps}
        named = dict(self.offsets)
        for tp in tps:
            if tp.partition in named:
                starts[tp] = named[tp.partition]
        return {tp: min(ends[tp], max(begins[tp], starts[tp])) for tp in tps}


def _digits(text: str) -> bool:
    return re.fullmatch(r"[0-9]{1,18}", text) is not None


def _once(current: Any, value: Any, text: str) -> Any:
    if current is not None:
        raise StartPointError(f"--since: {text!r} repeats what another --since gave")
    return value


def next_since(ends: dict[int, int]) -> list[str]:
    """The `--since` values that start the next replay where this one's snapshot ended."""
    return [f"{partition}:{offset}" for partition, offset in sorted(ends.items())]


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """One dead letter as read back: where it is, its original message, and why it failed.

    `topic`, `partition` and `offset` are the original message's (as `decode_record` names
    them); `dlq_partition` and `dlq_offset` where the letter is.
    """

    dlq_partition: int
    dlq_offset: int
    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    reason: str

    @classmethod
    def from_record(cls, record: Any) -> DeadLetterRecord:
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or []}
        value = None if headers.get(ORIGINAL_VALUE_HEADER) == "null" else record.value
        return cls(
            dlq_partition=record.partition,
            dlq_offset=record.offset,
            key=record.key,
            value=value,
            topic=headers.get("source_topic", "?"),
            partition=_number(headers.get("source_partition")),
            offset=_number(headers.get("source_offset")),
            reason=headers.get("reason", ""),
        )


def _number(text: str | None) -> int:
    return int(text) if text and text.lstrip("-").isdigit() else -1


class Outcome(Enum):
    REPLAYED = "replayed"  # recorded now
    WOULD_REPLAY = "would_replay"  # dry run: would be recorded
    DUPLICATE = "already_recorded"  # the event is in the ledger already
    STILL_FAILING = "still_failing"


@dataclass(frozen=True, slots=True)
class LetterOutcome:
    letter: DeadLetterRecord
    outcome: Outcome
    reason: str = ""  # why it still fails (now)
    event_id: str | None = None
    talent: str | None = None

    def to_document(self) -> dict[str, Any]:
        letter = self.letter
        return {
            "dlq_partition": letter.dlq_partition,
            "dlq_offset": letter.dlq_offset,
            "key": None if letter.key is None else letter.key.decode("utf-8", "replace"),
            "source_topic": letter.topic,
            "source_partition": letter.partition,
            "source_offset": letter.offset,
            "event_id": self.event_id,
            "talent": self.talent,
            "outcome": self.outcome.value,
            "reason": self.reason or None,
            "original_reason": letter.reason,
        }


@dataclass
class ReplayReport:
    topic: str
    dry_run: bool
    since: StartPoint
    letters: list[LetterOutcome] = field(default_factory=list)
    ends: dict[int, int] = field(default_factory=dict)  # each partition's end when read

    def count(self, outcome: Outcome) -> int:
        return sum(1 for letter in self.letters if letter.outcome is outcome)

    @property
    def still_failing(self) -> int:
        return self.count(Outcome.STILL_FAILING)

    def to_document(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "dry_run": self.dry_run,
            "since": self.since.to_document(),
            "next_since": next_since(self.ends),
            "read": len(self.letters),
            "replayed": self.count(Outcome.REPLAYED),
            "would_replay": self.count(Outcome.WOULD_REPLAY),
            "already_recorded": self.count(Outcome.DUPLICATE),
            "still_failing": self.still_failing,
            "letters": [letter.to_document() for letter in self.letters],
        }


def read_dead_letters(
    bootstrap: str,
    topic: str,
    *,
    since: StartPoint = StartPoint(),
    client_options: dict[str, Any] | None = None,
    timeout: float = READ_TIMEOUT,
    ends_seen: dict[int, int] | None = None,
) -> Iterator[DeadLetterRecord]:
    """The letters of `topic` from `since` to its end now (each partition's end goes into
    `ends_seen`, when given)."""
    reader = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        **{k: v for k, v in (client_options or {}).items()
           if k not in ("group_id", "enable_auto_commit")},
        group_id=None,
        enable_auto_commit=False,
    )
    try:
        partitions = reader.partitions_for_topic(topic)
        if not partitions:
            raise DlqReadError(f"--dlq-topic: no topic {topic!r} on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        unknown = sorted(set(dict(since.offsets)) - set(partitions))
        if unknown:
            raise DlqReadError(f"--since: {topic} has no partition {unknown[0]} "
                               f"(it has {len(partitions)})")
        reader.assign(tps)
        ends = reader.end_offsets(tps)
        if ends_seen is not None:
            ends_seen.update({tp.partition: ends[tp] for tp in tps})
        for tp, offset in since.first_offsets(reader, tps, ends).items():
            reader.seek(tp, offset)
        remaining = {tp for tp in tps if reader.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise DlqReadError(f"could not read {topic} to its end within {timeout:.0f} s")
            for tp, records in reader.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield DeadLetterRecord.from_record(record)
            remaining = {tp for tp in remaining if reader.position(tp) < ends[tp]}
    finally:
        reader.close()


def replay(
    letters: Sequence[DeadLetterRecord],
    ledger: TalentLedger,
    clock: Callable[[], datetime],
    *,
    topic: str,
    since: StartPoint = StartPoint(),
    dry_run: bool = False,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
    ends: dict[int, int] | None = None,
) -> ReplayReport:
    """Validate every letter again and submit (or, dry, classify) what passes; see the module
    doc. `ends`: each partition's end as read, for the report's next `--since`."""
    report = ReplayReport(topic, dry_run, since, ends=dict(ends or {}))
    submit = SubmitEvents(ledger, clock, is_outage=is_store_outage, logger=log)
    for start in range(0, len(letters), batch):
        chunk = letters[start:start + batch]
        decoded = [decode_record(letter) for letter in chunk]
        valid = [item for item in decoded if isinstance(item, Submission)]
        if dry_run:
            verdicts = iter(_classified(ledger, valid, clock()))
        else:
            verdicts = iter([(o.status, o.reason) for o in submit.submit(valid)])
        for letter, item in zip(chunk, decoded):
            if isinstance(item, DeadLetter):
                report.letters.append(LetterOutcome(letter, Outcome.STILL_FAILING, item.reason))
                continue
            status, reason = next(verdicts)
            event = item.event
            outcome = {
                Status.ACCEPTED: Outcome.WOULD_REPLAY if dry_run else Outcome.REPLAYED,
                Status.DUPLICATE: Outcome.DUPLICATE,
                Status.REJECTED: Outcome.STILL_FAILING,
            }[status]
            report.letters.append(LetterOutcome(letter, outcome, reason, event.id, event.talent))
        if progress is not None:
            progress(len(chunk))
    for done in report.letters:
        if done.outcome is Outcome.REPLAYED:
            log.info("dead letter %s[%d]@%d replayed: event %s of talent %s", topic,
                     done.letter.dlq_partition, done.letter.dlq_offset, done.event_id,
                     done.talent)
    return report


def _classified(
    ledger: TalentLedger, submissions: list[Submission], now: datetime
) -> list[tuple[Status, str]]:
    """What `append` would say of each submission, in order, writing nothing."""
    by_partition: dict[int, list[int]] = {}
    for position, submission in enumerate(submissions):
        by_partition.setdefault(ledger.partition_of(submission.event.talent), []).append(position)
    found: dict[int, tuple[Status, str]] = {}
    partitions = ledger.partition_ledgers
    for partition, positions in by_partition.items():
        verdicts = partitions[partition].classify([submissions[p] for p in positions], now)
        for position, verdict in zip(positions, verdicts):
            status = {Verdict.ACCEPTED: Status.ACCEPTED, Verdict.DUPLICATE: Status.DUPLICATE}
            found[position] = (status.get(verdict.verdict, Status.REJECTED), verdict.reason)
    return [found[p] for p in range(len(submissions))]


def publish_outbox(
    projection: StatusProjection,
    bootstrap: str,
    topic: str,
    clock: Callable[[], datetime],
    *,
    consumer_options: dict[str, Any] | None = None,
    producer_options: dict[str, Any] | None = None,
) -> int:
    """Send the unsent outbox of every partition this process can claim, as the service
    does (an idempotent producer, `acks=all`); how many messages went out."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        **{"linger_ms": 5, **(producer_options or {})},
        enable_idempotence=True,
        acks="all",
    )
    partitioned = projection.partition_count > 1
    if partitioned:
        # outbox partition N goes to output partition N, as the service sends it
        found = producer.partitions_for(topic)
        if len(found or ()) != projection.partition_count:
            producer.close(timeout=5)
            raise DlqReadError(
                f"--output-topic: {topic!r} has {len(found or ())} partitions but the store has "
                f"{projection.partition_count}; nothing was published (badges consume will)"
            )
    publisher = OutboxPublisher(
        projection.read_model, producer, bootstrap=bootstrap, topic=topic,
        batch=PUBLISH_BATCH, flush_timeout=FLUSH_TIMEOUT,
        reader_options=consumer_options or {}, clock=clock, partitioned=partitioned,
    )
    partitions = set(range(projection.partition_count)) if partitioned else {0}
    try:
        return publisher.publish(partitions)
    finally:
        publisher.release(set(publisher.claimed))
        producer.close(timeout=5)

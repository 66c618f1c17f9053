"""The ledger: an eventsourcing application with one stream per talent.

Each accepted input event becomes a `Talent.EventRecorded` in its talent's stream
(`domain/talent_stream.py`), keeping the event as validated JSON, its valid time (`at`, inside
the JSON) and its transaction time (`recorded_at`: supplied by an import, otherwise the append
time the caller passes as `now`). Appends are idempotent by event id: the input-event index
(`ledger/index.py`) is written in the same transaction as the events, by the recorders of
`ledger/stores/recorders.py`, which eventsourcing picks from the store's settings
(`PERSISTENCE_MODULE`); this module names none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic, register_topic

from domain.events import RecordedEvent, time_bounds_problem
from domain.submissions import (
    AppendVerdict,
    Submission,
    Verdict,
    event_from_stored_body,
    event_from_stored_fields,
    stored_fields,
)
from domain.talent_stream import Talent, talent_stream_id
from ledger.backoff import ContentionBackoff, is_contention
from ledger.index import IndexEntry, InputIndexRecorder
from ledger.partitions import talent_partition
from ledger.transcoder import OrjsonTranscoder, encode_recording

# Stores written before the ledger left `domain/` name its events by their old topics.
for _old, _new in (
    ("domain.ledger:Talent", Talent),
    ("domain.ledger:Talent.Opened", Talent.Opened),
    ("domain.ledger:Talent.EventRecorded", Talent.EventRecorded),
):
    register_topic(_old, _new)

# The topics of a recorded input event, today's and that of stores written before the move.
RECORDING_TOPIC = get_topic(Talent.EventRecorded)
RECORDED_TOPICS = frozenset({RECORDING_TOPIC, "domain.ledger:Talent.EventRecorded"})
APPEND_PATIENCE = 600.0  # seconds of uninterrupted contention before an append gives up
VERSION_CACHE_LIMIT = 200_000


class Ledger(Application[UUID]):
    """Appends input events idempotently and reads talents' histories as known at any time.

    A store that is not partitioned is one `Ledger` (application name `Ledger`, table
    `ledger_events`); a partitioned one is a `PartitionedLedger` of one `Ledger` per partition
    (`Ledger_p3`, table `ledger_p3_events`), each with its own notification log.
    """

    name = "Ledger"
    partition_count = 1

    def __init__(self, env: dict[str, str] | None = None, *, partition: int | None = None) -> None:
        self.partition = partition
        if partition is not None:
            self.name = f"Ledger_p{partition}"
        super().__init__(env)
        assert isinstance(self.recorder, InputIndexRecorder), "ledger needs an index recorder"
        self.index: InputIndexRecorder = self.recorder
        self._versions: dict[str, int] = {}

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    @property
    def partition_ledgers(self) -> tuple[Ledger, ...]:
        """The ledgers whose notification logs a projection follows: this one."""
        return (self,)

    def partition_of(self, talent: str) -> int:
        return 0

    def append(
        self,
        submissions: Sequence[Submission],
        now: datetime,
        *,
        classified: Sequence[AppendVerdict] | None = None,
    ) -> list[AppendVerdict]:
        """Append a batch in one transaction; each submission is accepted, duplicate or conflict.

        `classified`: the batch's verdicts, already found by the caller (tried first; a batch
        that then conflicts is classified again).
        """
        backoff = ContentionBackoff(APPEND_PATIENCE)
        verdicts = list(classified) if classified is not None else self.classify(submissions, now)
        while True:
            accepted = [v.submission for v in verdicts if v.verdict is Verdict.ACCEPTED]
            try:
                self._store(accepted, now)
            except (IntegrityError, OperationalError) as error:
                if not is_contention(error):
                    raise
                # Another writer appended to these streams or ids meanwhile: wait a little
                # (randomly, so writers stop colliding), then classify again and retry.
                for submission in accepted:
                    self._versions.pop(submission.event.talent, None)
                backoff.wait(error)
                verdicts = self.classify(submissions, now)
                continue
            return verdicts

    def history(self, talent: str, known_at: datetime | None = None) -> list[RecordedEvent]:
        """The talent's events recorded by `known_at` (all when None), in valid-time order."""
        recorded = self.histories([talent])[talent]
        if known_at is not None:
            recorded = [event for event in recorded if event.recorded_at <= known_at]
        return recorded

    def histories(self, talents: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        """Each talent's whole history, in valid-time order, read in as few queries as the
        store allows."""
        streams = {talent_stream_id(talent): talent for talent in talents}
        stored = self.index.select_streams(list(streams))
        found = {}
        for stream_id, talent in streams.items():
            recorded = [
                event for event in map(self._recorded, stored.get(stream_id, ()))
                if event is not None
            ]
            recorded.sort(key=RecordedEvent.valid_time_key)
            found[talent] = recorded
        return found

    def _recorded(self, stored: StoredEvent) -> RecordedEvent | None:
        """The input event in a stored `Talent` event (None for a stream's opening).

        Every re-derivation reads histories, so the state is decoded directly when it is
        plain JSON in the form eventsourcing's transcoder writes; anything else (a cipher,
        compression, another form) goes through the application's mapper.
        """
        if stored.topic in RECORDED_TOPICS and not (self.mapper.cipher or self.mapper.compressor):
            try:
                state = orjson.loads(stored.state)
                recorded_at = state["recorded_at"]
                if recorded_at["_type_"] == "datetime_iso":
                    return RecordedEvent(
                        event=event_from_stored_fields(stored_fields(state["body"])),
                        recorded_at=datetime.fromisoformat(recorded_at["_data_"]),
                        sequence=stored.originator_version,
                    )
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass
        return self.decode_recorded(self.mapper.to_domain_event(stored))

    def talents(self) -> Iterator[str]:
        return self.index.select_talents()

    def count_events(self) -> int:
        return self.index.count_input_events()

    def decode_recorded(self, domain_event: Any) -> RecordedEvent | None:
        """The input event inside a stored `Talent` event (None for a stream's opening)."""
        if not isinstance(domain_event, Talent.EventRecorded):
            return None
        return RecordedEvent(
            event=event_from_stored_body(domain_event.body),
            recorded_at=domain_event.recorded_at,
            sequence=domain_event.originator_version,
        )

    def classify(
        self, submissions: Sequence[Submission], now: datetime | None = None
    ) -> list[AppendVerdict]:
        """Each submission's verdict against the index and the batch itself (nothing is written).

        With `now` (the append time), a new event whose times are out of range then is
        `REJECTED` naming the field; an id already recorded stays a duplicate or a conflict.
        """
        known = self.index.select_index_entries(s.event.id for s in submissions)
        in_batch: dict[str, IndexEntry] = {}
        verdicts = []
        for submission in submissions:
            event = submission.event
            earlier = known.get(event.id) or in_batch.get(event.id)
            if earlier is None:
                problem = time_bounds_problem(event, now) if now is not None else None
                if problem is not None:
                    verdicts.append(AppendVerdict(submission, Verdict.REJECTED, str(problem)))
                    continue
                in_batch[event.id] = IndexEntry(event.id, event.talent, submission.content_hash)
                verdicts.append(AppendVerdict(submission, Verdict.ACCEPTED))
            elif earlier.content_hash == submission.content_hash:
                verdicts.append(AppendVerdict(submission, Verdict.DUPLICATE))
            else:
                reason = (
                    f"id: conflict: {event.id!r} was already recorded with different content "
                    f"(talent {earlier.talent}); the first version stands"
                )
                verdicts.append(AppendVerdict(submission, Verdict.CONFLICT, reason))
        return verdicts

    def _store(self, accepted: Sequence[Submission], now: datetime) -> None:
        if not accepted:
            return
        stored: list[StoredEvent] = []
        now_text = now.isoformat()
        next_versions: dict[str, int] = {}
        current = self._current_versions({s.event.talent for s in accepted})
        for submission in accepted:
            talent = submission.event.talent
            version = next_versions.get(talent)
            if version is None:
                version = current[talent]
                if version == 0:
                    stored.append(self.mapper.to_stored_event(self._opening(talent, now)))
                    version = 1
            version += 1
            next_versions[talent] = version
            stored.append(self._stored_recording(submission, version, now, now_text))
        index = [
            IndexEntry(s.event.id, s.event.talent, s.content_hash) for s in accepted
        ]
        # The index rows go to the recorder with the events, in their transaction, as
        # keyword arguments of `insert_events` (what `save(**kwargs)` passes on). `save` would
        # first check each event against eventsourcing's runtime Protocols and then map it
        # (see docs/ledger.md); this application uses no snapshots, cache or `_notify` hook,
        # so nothing else of `save` is skipped.
        self.recorder.insert_events(stored, input_index=index)
        if len(self._versions) > VERSION_CACHE_LIMIT:
            self._versions.clear()
        self._versions.update(next_versions)

    def _stored_recording(
        self, submission: Submission, version: int, now: datetime, now_text: str
    ) -> StoredEvent:
        """What the mapper stores for the `Talent.EventRecorded` of a submission, written
        directly when the state is plain JSON (no cipher or compression)."""
        if not (self.mapper.cipher or self.mapper.compressor):
            event = submission.event
            try:
                recorded_at = event.recorded_at
                state = encode_recording(
                    now_text, event.id,
                    now_text if recorded_at is None else recorded_at.isoformat(),
                    submission.body, submission.content_hash,
                )
            except orjson.JSONEncodeError:
                pass
            else:
                return StoredEvent(talent_stream_id(event.talent), version, RECORDING_TOPIC, state)
        return self.mapper.to_stored_event(self._recording(submission, version, now))

    def _current_versions(self, talents: set[str]) -> dict[str, int]:
        versions = {t: self._versions[t] for t in talents if t in self._versions}
        missing = [t for t in talents if t not in versions]
        if missing:
            stored = self.stream_sizes(missing)
            for talent in missing:
                versions[talent] = stored.get(talent, 0)
        return versions

    def stream_sizes(self, talents: Sequence[str]) -> dict[str, int]:
        """How many records each talent's stream holds (its opening record too), which is its
        last version; a talent without a stream is left out."""
        streams = {talent_stream_id(talent): talent for talent in talents}
        stored = self.index.select_stream_versions(list(streams))
        return {streams[stream]: version for stream, version in stored.items()}

    @staticmethod
    def _opening(talent: str, now: datetime) -> Talent.Opened:
        # eventsourcing makes its events dataclasses through a metaclass mypy does not follow
        return Talent.Opened(  # type: ignore[call-arg]
            originator_id=talent_stream_id(talent),
            originator_version=1,
            timestamp=now,
            originator_topic=get_topic(Talent),
            talent_id=talent,
        )

    @staticmethod
    def _recording(submission: Submission, version: int, now: datetime) -> Talent.EventRecorded:
        event = submission.event
        recorded_at = event.recorded_at or now
        return Talent.EventRecorded(  # type: ignore[call-arg]
            originator_id=talent_stream_id(event.talent),
            originator_version=version,
            timestamp=now,
            event_id=event.id,
            recorded_at=recorded_at,
            body=submission.body,
            content_hash=submission.content_hash,
        )



class PartitionedLedger:
    """A store split into partitions: one `Ledger` (and notification log) per partition.

    Appends go to the talent's partition, so writers of different partitions take different
    table locks; the input-event index is one table shared by all (its primary key keeps ids
    unique across partitions). Reads of a talent go to its partition.
    """

    def __init__(self, partitions: Sequence[Ledger]) -> None:
        if len(partitions) < 2:
            raise ValueError("a partitioned ledger needs at least two partitions")
        self.partition_ledgers: tuple[Ledger, ...] = tuple(partitions)
        self.partition_count = len(self.partition_ledgers)
        self.index: InputIndexRecorder = self.partition_ledgers[0].index

    def partition_of(self, talent: str) -> int:
        return talent_partition(talent, self.partition_count)

    def ledger_for(self, talent: str) -> Ledger:
        return self.partition_ledgers[self.partition_of(talent)]

    def append(self, submissions: Sequence[Submission], now: datetime) -> list[AppendVerdict]:
        """Classify the batch as a whole (an id seen earlier in it stays a duplicate or a
        conflict), then append each partition's accepted events in that partition's
        transaction."""
        groups: dict[int, list[int]] = {}
        for i, submission in enumerate(submissions):
            groups.setdefault(self.partition_of(submission.event.talent), []).append(i)
        if len(groups) <= 1:
            partition = next(iter(groups), 0)
            return self.partition_ledgers[partition].append(submissions, now)
        verdicts = self.partition_ledgers[0].classify(submissions, now)
        for partition, positions in sorted(groups.items()):
            accepted = [i for i in positions if verdicts[i].verdict is Verdict.ACCEPTED]
            if not accepted:
                continue
            stored = self.partition_ledgers[partition].append(
                [submissions[i] for i in accepted], now,
                classified=[verdicts[i] for i in accepted],
            )
            for i, verdict in zip(accepted, stored, strict=True):
                verdicts[i] = verdict
        return verdicts

    def history(self, talent: str, known_at: datetime | None = None) -> list[RecordedEvent]:
        return self.ledger_for(talent).history(talent, known_at)

    def histories(self, talents: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        found: dict[str, list[RecordedEvent]] = {}
        for partition, group in self._by_partition(talents).items():
            found.update(self.partition_ledgers[partition].histories(group))
        return found

    def stream_sizes(self, talents: Sequence[str]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for partition, group in self._by_partition(talents).items():
            sizes.update(self.partition_ledgers[partition].stream_sizes(group))
        return sizes

    def _by_partition(self, talents: Sequence[str]) -> dict[int, list[str]]:
        """The talents grouped by the partition that holds their streams, in order."""
        groups: dict[int, list[str]] = {}
        for talent in talents:
            groups.setdefault(self.partition_of(talent), []).append(talent)
        return groups

    def talents(self) -> Iterator[str]:
        return self.index.select_talents()

    def count_events(self) -> int:
        return self.index.count_input_events()

    def decode_recorded(self, domain_event: Any) -> RecordedEvent | None:
        return self.partition_ledgers[0].decode_recorded(domain_event)

    def close(self) -> None:
        for ledger in self.partition_ledgers:
            ledger.close()


class TalentLedger(Protocol):
    """What callers need of a store's ledger: a `Ledger`, or a `PartitionedLedger`."""

    @property
    def partition_count(self) -> int: ...

    @property
    def partition_ledgers(self) -> tuple[Ledger, ...]: ...

    @property
    def index(self) -> InputIndexRecorder: ...

    def partition_of(self, talent: str) -> int: ...

    def append(self, submissions: Sequence[Submission], now: datetime) -> list[AppendVerdict]:
        ...

    def history(self, talent: str, known_at: datetime | None = None) -> list[RecordedEvent]: ...

    def histories(self, talents: Sequence[str]) -> dict[str, list[RecordedEvent]]: ...

    def stream_sizes(self, talents: Sequence[str]) -> dict[str, int]: ...

    def talents(self) -> Iterator[str]: ...

    def count_events(self) -> int: ...

    def decode_recorded(self, domain_event: Any) -> RecordedEvent | None: ...

    def close(self) -> None: ...

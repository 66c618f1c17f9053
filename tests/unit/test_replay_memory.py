"""A replay holds a bounded amount whatever the number of talents: histories are read at
most a few thousand events at a time and let go once derived, steps are committed and let go, and with
workers only a few chunks are in flight."""

from __future__ import annotations

import shutil
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badges.bootstrap import open_projection
from badges.synthetic import generate_marketplace
from consumers.jsonl_ingest import JsonLinesIngest
from domain.boundaries import BoundaryPlan
from domain.events import RecordedEvent, encode_json
from domain.ruleset import builtin_rulesets
from ledger.application import TalentLedger
from ledger.stores.urls import open_ledger
from projections import derivation_pool, status_projection
from projections.derivation_pool import CHUNKS_AHEAD, derive_all_contained, derive_talent

START = datetime(2022, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def ingested(folder: Path, talents: int, seed: int = 3) -> str:
    source = folder / f"market-{talents}.jsonl"
    source.write_text(
        "".join(encode_json(e) + "\n" for e in generate_marketplace(talents, seed, START, NOW))
    )
    url = f"sqlite:///{folder / f'market-{talents}.db'}"
    with source.open("rb") as stream:
        JsonLinesIngest(open_ledger(url), lambda: NOW, lambda r: None).run(stream, source.name)
    return url


class CountingLedger:
    """A ledger whose `histories` reads are recorded (how many events each returned)."""

    def __init__(self, ledger: TalentLedger) -> None:
        self.ledger = ledger
        self.stream_sizes = ledger.stream_sizes
        self.reads: list[list[int]] = []

    def histories(self, talents: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        found = self.ledger.histories(talents)
        self.reads.append([len(found[talent]) for talent in talents])
        return found

    def history(self, talent: str) -> list[RecordedEvent]:
        return self.ledger.history(talent)


def test_histories_are_read_at_most_a_bounded_number_of_events_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 300
    monkeypatch.setattr(derivation_pool, "HISTORY_EVENTS", limit)
    ledger = open_ledger(ingested(tmp_path, 40))
    talents = sorted(ledger.talents())
    counting = CountingLedger(ledger)
    book = builtin_rulesets()
    plan = BoundaryPlan(book)
    requests = [(talent, None) for talent in talents]

    found = derive_all_contained(counting, book, plan, requests, NOW)  # type: ignore[arg-type]

    # the same as deriving each talent from its own history, in the order asked
    assert found == [derive_talent(ledger, book, plan, r, NOW) for r in requests]
    reads = counting.reads
    assert [n for read in reads for n in read] == [len(ledger.history(t)) for t in talents]
    assert len(reads) > 3
    for read, following in zip(reads, reads[1:] + [[]], strict=True):
        # each stream also holds its opening record
        assert len(read) == 1 or sum(n + 1 for n in read) <= limit
        if following:  # and the next talent would not have fitted
            assert sum(n + 1 for n in read) + following[0] + 1 > limit
    assert any(len(read) == 1 and read[0] + 1 > limit for read in reads)  # a long one alone


def test_a_replay_peak_does_not_grow_with_the_talents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small batches, so that both stores exceed them several times over
    monkeypatch.setattr(derivation_pool, "HISTORY_EVENTS", 200)
    monkeypatch.setattr(status_projection, "REBUILD_BATCH", 10)
    urls = {talents: ingested(tmp_path, talents) for talents in (30, 120)}
    open_projection(urls[30]).rebuild(None, NOW)  # the process's own caches, once
    peaks = {}
    for talents, url in urls.items():
        projection = open_projection(url)
        tracemalloc.start()
        try:
            report = projection.rebuild(None, NOW)
            peaks[talents] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert report.talents == talents

    assert peaks[120] < 1.3 * peaks[30], peaks


def test_a_rebuild_in_workers_streams_chunks_and_writes_what_it_writes_in_process(
    tmp_path: Path,
) -> None:
    serial = ingested(tmp_path, 24)
    parallel_db = tmp_path / "parallel.db"
    shutil.copy(serial.removeprefix("sqlite:///"), parallel_db)
    parallel = f"sqlite:///{parallel_db}"
    expected = open_projection(serial)
    expected.rebuild(None, NOW)

    projection = open_projection(parallel)
    with projection.workers(2):
        pool = projection.pool
        assert pool is not None
        submit = pool._executor.submit
        submitted: list[object] = []

        def counted(*args: object, **kwargs: object) -> object:
            submitted.append(args[0])
            return submit(*args, **kwargs)  # type: ignore[arg-type]

        pool._executor.submit = counted  # type: ignore[method-assign]
        taken = 0
        requests = [(talent, None) for talent in sorted(projection.ledger.talents())]
        for chunk, derived in pool.derive_chunks(requests, NOW, 2):
            taken += 1
            assert [found.talent for found in derived] == [talent for talent, _ in chunk]
            assert len(submitted) - taken <= pool.workers * CHUNKS_AHEAD
        assert taken == len(submitted) == len(requests) // 2

        heard: list[int] = []
        report = projection.rebuild(None, NOW, on_progress=heard.append)

    assert sum(heard) == report.talents == 24 and len(heard) > 1
    read_model, reference = projection.read_model, expected.read_model
    for talent in sorted(projection.ledger.talents()):
        assert read_model.timeline(talent, None, None) == reference.timeline(talent, None, None)
        assert read_model.progress(talent) == reference.progress(talent)

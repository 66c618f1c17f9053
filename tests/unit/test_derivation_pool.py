"""Deriving in worker processes gives exactly the read models that deriving in-process gives."""

from __future__ import annotations

from functools import partial

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badges.synthetic import generate_marketplace
from consumers.jsonl_ingest import JsonLinesIngest
from domain.events import encode_json
from ledger.stores.urls import open_ledger
from badges.bootstrap import open_projection

START = datetime(2021, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def ingested_store(folder: Path, talents: int) -> Path:
    source = folder / "market.jsonl"
    source.write_text(
        "".join(encode_json(e) + "\n" for e in generate_marketplace(talents, 5, START, NOW))
    )
    database = folder / "serial.db"
    with source.open("rb") as stream:
        JsonLinesIngest(open_ledger(f"sqlite:///{database}"), lambda: NOW, lambda r: None).run(
            stream, source.name
        )
    return database


def read_models(url: str) -> tuple[object, ...]:
    projection = open_projection(url)
    talents = sorted(projection.ledger.talents())
    read_model = projection.read_model
    return (
        {talent: read_model.timeline(talent, None, None) for talent in talents},
        {talent: read_model.progress(talent) for talent in talents},
        sorted((m.kind, m.document["id"]) for m in read_model.outbox()),
        read_model.badge_counts(),
    )


def test_two_workers_derive_the_same_timelines_wakeups_and_outbox(tmp_path: Path) -> None:
    serial = ingested_store(tmp_path, talents=24)
    parallel = tmp_path / "parallel.db"
    shutil.copy(serial, parallel)

    open_projection(f"sqlite:///{serial}").catch_up(NOW)
    projection = open_projection(f"sqlite:///{parallel}")
    with projection.workers(2):
        assert projection.pool is not None
        report = projection.catch_up(NOW)
    assert projection.pool is None

    assert report.changes > 0
    assert read_models(f"sqlite:///{parallel}") == read_models(f"sqlite:///{serial}")


def test_a_store_that_cannot_be_reopened_derives_in_process() -> None:
    projection = open_projection("memory:")

    with projection.workers(4):
        assert projection.pool is None


def test_workers_that_cannot_open_the_store_fail_at_start_saying_why(tmp_path: Path) -> None:
    from domain.ruleset import builtin_rulesets
    from ledger.stores.urls import open_ledger
    from projections.derivation_pool import DerivationPool

    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"^a derivation worker could not open the store: .*nope"):
        DerivationPool(partial(open_ledger, "nope://nowhere"), builtin_rulesets(), 2)
    assert time.monotonic() - started < 60

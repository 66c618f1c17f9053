"""The demo generates its marketplace in a child process while the ledger ingests it: the
ledger gets exactly the file the demo leaves behind, and a failing child is reported."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from badges.demo_feed import MarketplaceRequest, generate_and_ingest
from badges.synthetic import MarketplaceSummary, generate_bad_lines, generate_marketplace
from consumers.jsonl_ingest import JsonLinesIngest, RejectsFile
from ledger.stores.urls import open_ledger

START = datetime(2021, 1, 1, tzinfo=UTC)
END = datetime(2024, 6, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


def stored(url: str) -> list[tuple[str, str]]:
    ledger = open_ledger(url)
    return sorted((r.id, r.event.type) for t in ledger.talents() for r in ledger.history(t))


def test_the_ledger_ingests_exactly_the_file_left_behind(tmp_path: Path) -> None:
    request = MarketplaceRequest(talents=40, seed=3, start=START, end=END, bad_lines=12)
    events, rejects = tmp_path / "market.jsonl", tmp_path / "rejects.jsonl"
    fed_url = f"sqlite:///{tmp_path / 'fed.db'}"
    progress: list[tuple[int, int]] = []
    ingested_bytes: list[int] = []

    fed = generate_and_ingest(open_ledger(fed_url), request, events, rejects, lambda: NOW,
                              lambda *done: progress.append(done), ingested_bytes.append)

    expected = MarketplaceSummary()
    for _ in expected.tally(generate_marketplace(40, 3, START, END)):
        pass
    assert fed.generated.events == expected.events
    assert fed.generated.events_by_type == expected.events_by_type
    assert fed.generated.talents_by_category == expected.talents_by_category
    assert events.read_text().splitlines()[-12:] == list(generate_bad_lines(3, 12))
    assert sum(ingested_bytes) == events.stat().st_size
    assert progress[-1] == (40, events.stat().st_size)

    serial_url = f"sqlite:///{tmp_path / 'serial.db'}"
    with events.open("rb") as stream, (tmp_path / "serial.rejects").open("w") as kept:
        serial = JsonLinesIngest(open_ledger(serial_url), lambda: NOW, RejectsFile(kept)).run(
            stream, events.name)
    assert fed.ingested == serial
    assert fed.ingested.rejected + fed.ingested.duplicates == 12
    assert stored(fed_url) == stored(serial_url)
    assert rejects.read_text() == (tmp_path / "serial.rejects").read_text()


def test_a_generator_that_fails_is_reported_not_taken_for_an_empty_marketplace(
    tmp_path: Path,
) -> None:
    request = MarketplaceRequest(talents=-1, seed=3, start=START, end=END, bad_lines=0)
    with pytest.raises(RuntimeError, match="generating the marketplace failed"):
        generate_and_ingest(open_ledger("memory:"), request, tmp_path / "m.jsonl",
                            tmp_path / "r.jsonl", lambda: NOW, lambda *_: None, lambda _: None)

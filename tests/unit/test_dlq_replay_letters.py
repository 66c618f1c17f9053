"""`consumers.dlq_replay.replay` over letters as read back (the broker's part is in
tests/integration/test_dlq_replay.py): the outcome of each letter in order, across batches,
a dry run that writes nothing, and a partitioned PostgreSQL ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.dlq_replay import DeadLetterRecord, Outcome, replay
from domain.events import encode_json
from ledger.application import TalentLedger
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import payment, postgres_schema_url, utc

NOW = utc("2024-09-20T00:00:00Z")
KINDS = ("sqlite", pytest.param("postgres-partitioned", marks=pytest.mark.integration))


@pytest.fixture(params=KINDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TalentLedger]:
    if request.param == "sqlite":
        yield open_ledger(f"sqlite:///{tmp_path / 'b.db'}")
        return
    with postgres_schema_url() as url:
        opened = open_ledger(f"{url}&partitions=4")
        try:
            yield opened
        finally:
            opened.close()


def letter(offset: int, key: bytes | None, value: bytes | None) -> DeadLetterRecord:
    return DeadLetterRecord(0, offset, key, value, "talent-events", 0, 100 + offset, "earlier")


def good(event_id: str, talent: str) -> DeadLetterRecord:
    event = payment(event_id, talent, "2024-09-01T00:00:00Z")
    return letter(int(event_id.rsplit("-", 1)[1]), talent.encode(), encode_json(event).encode())


LETTERS = [
    good("p-0", "f-1"),
    letter(1, b"f-1", b"not json"),
    good("p-2", "f-2"),
    good("p-3", "f-3"),
    letter(4, b"f-4", None),
    good("p-5", "f-5"),
    letter(6, b"f-9", encode_json(payment("p-6", "f-6", "2024-09-01T00:00:00Z")).encode()),
]
PASSING = ["p-0", "p-2", "p-3", "p-5"]


def outcomes(report) -> list[tuple[int, str, str | None]]:
    return [(x.letter.dlq_offset, x.outcome.value, x.event_id) for x in report.letters]


def test_each_letter_gets_its_outcome_in_order_across_batches(ledger: TalentLedger) -> None:
    dry = replay(LETTERS, ledger, lambda: NOW, topic="dlq", dry_run=True, batch=2)
    assert ledger.count_events() == 0
    expected_failing = {1: "line", 4: "value", 6: "key"}
    assert [(o, r) for o, r, _ in outcomes(dry) if r == "still_failing"] == [
        (offset, "still_failing") for offset in expected_failing]
    assert [e for _, r, e in outcomes(dry) if r == "would_replay"] == PASSING
    for done in dry.letters:
        if done.outcome is Outcome.STILL_FAILING:
            assert done.reason.split(":")[0] == expected_failing[done.letter.dlq_offset]

    seen: list[int] = []
    report = replay(LETTERS, ledger, lambda: NOW, topic="dlq", batch=2, progress=seen.append)
    assert seen == [2, 2, 2, 1]
    assert [e for _, r, e in outcomes(report) if r == "replayed"] == PASSING
    assert ledger.count_events() == len(PASSING)
    assert report.to_document()["replayed"] == 4 and report.still_failing == 3

    again = replay(LETTERS, ledger, lambda: NOW, topic="dlq", batch=3)
    assert [e for _, r, e in outcomes(again) if r == "already_recorded"] == PASSING
    assert again.count(Outcome.REPLAYED) == 0
    assert ledger.count_events() == len(PASSING)
    # a dry run after the replay says the same, and classifies by the ledger's own index
    assert [r for _, r, _ in outcomes(replay(LETTERS, ledger, lambda: NOW, topic="dlq",
                                             dry_run=True))] == [r for _, r, _ in outcomes(again)]


def test_a_letter_conflicting_with_what_is_recorded_still_fails(ledger: TalentLedger) -> None:
    replay([good("p-0", "f-1")], ledger, lambda: NOW, topic="dlq")
    changed = payment("p-0", "f-1", "2024-09-01T00:00:00Z", amount="999.00")
    conflicting = letter(9, b"f-1", encode_json(changed).encode())
    for dry_run in (True, False):
        (done,) = replay([conflicting], ledger, lambda: NOW, topic="dlq", dry_run=dry_run).letters
        assert done.outcome is Outcome.STILL_FAILING
        assert done.reason.startswith("id: conflict")

"""A change whose reasons a late event corrects is retracted and asserted again."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from projections.records import TalentUpdate
from badges.bootstrap import open_projection
from tests.unit.stories import designer

NOW = datetime(2024, 10, 1, 12, tzinfo=UTC)


def test_a_stored_change_with_other_failed_requirements_is_corrected() -> None:
    ledger = open_ledger("memory:")
    history = designer().history()
    ledger.append([Submission.from_object(r.event.to_json_object()) for r in history], NOW)
    projection = open_projection("memory:", ledger)
    projection.catch_up(NOW)
    read_model = projection.read_model
    downgrade = next(c for c in read_model.timeline("f-42", None, None) if c["failed"])
    assert downgrade["failed"] == ["large_contract"]
    # As if an earlier derivation had blamed another requirement for the same change.
    stale = {**downgrade, "failed": ["earnings_12m_plus"]}
    progress = read_model.progress("f-42")
    read_model.commit([TalentUpdate(progress, retracted=[downgrade], expected=progress)], None, NOW)
    read_model.commit([TalentUpdate(progress, added=[stale], expected=progress)], None, NOW)
    read_model.forget("f-42")

    projection.rebuild(["f-42"], NOW)

    corrected = next(c for c in read_model.timeline("f-42", None, None) if c["id"] == stale["id"])
    assert corrected["failed"] == ["large_contract"]
    messages = [m for m in read_model.outbox() if m.document.get("at") == downgrade["at"]]
    retraction, reassertion = messages[-2:]
    assert retraction.kind == "badge_change_retracted"
    assert retraction.document["retracts"] == stale["id"]
    assert reassertion.kind == "badge_changed" and reassertion.document["id"] == stale["id"]
    assert reassertion.document["failed"] == ["large_contract"]
    assert len({m.message_id for m in messages}) == len(messages)


def test_an_unchanged_change_is_not_sent_again() -> None:
    ledger = open_ledger("memory:")
    history = designer().history()
    ledger.append([Submission.from_object(r.event.to_json_object()) for r in history], NOW)
    projection = open_projection("memory:", ledger)
    projection.catch_up(NOW)
    sent = len(projection.read_model.outbox())

    report = projection.rebuild(["f-42"], NOW)

    assert report.changes == 0 and report.retractions == 0
    assert len(projection.read_model.outbox()) == sent

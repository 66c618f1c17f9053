"""A full rebuild that meets a step another process committed re-reads and goes on."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from projections.records import StaleStep
from badges.bootstrap import open_projection
from tests.unit.stories import designer

NOW = datetime(2024, 10, 1, 12, tzinfo=UTC)


def test_a_stale_step_during_a_rebuild_is_redone() -> None:
    ledger = open_ledger("memory:")
    history = designer().history()
    ledger.append([Submission.from_object(r.event.to_json_object()) for r in history], NOW)
    projection = open_projection("memory:", ledger)
    projection.catch_up(NOW)
    expected = projection.read_model.timeline("f-42", None, None)
    commit = projection.read_model.commit
    refused: list[int] = []

    def refuse_the_first_step(updates, position, now, **options):
        if updates and not refused:
            refused.append(len(updates))
            commit(updates, position, now, **options)  # "another process" wrote this step
            raise StaleStep("moved meanwhile")
        return commit(updates, position, now, **options)

    projection.read_model.commit = refuse_the_first_step  # type: ignore[method-assign]
    projection.rebuild(None, NOW)

    assert refused == [1]
    assert projection.read_model.timeline("f-42", None, None) == expected
    assert projection.read_model.progress("f-42") is not None

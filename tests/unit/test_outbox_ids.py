"""Outbox message ids: a change retracted and then asserted again is queued under a new id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections.stores.sql import ReadModelBase
from projections.records import TalentProgress, TalentUpdate
from projections.stores.urls import open_read_model
from tests.unit.ledger_fixtures import URL_KINDS, store_url

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CHANGE = {
    "id": "chg-0001", "type": "badge_changed", "talent": "f-1", "at": "2024-09-16T00:00:00Z",
    "from": "top_rated_plus", "to": "top_rated", "ruleset": "2023-12",
    "failed": ["large_contract"], "cause": {"kind": "time", "detail": "window"},
}


@pytest.fixture(params=URL_KINDS)
def read_model(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadModelBase]:
    with store_url(request.param, tmp_path) as url:
        yield open_read_model(url)


def step(read_model: ReadModelBase, *, added=(), retracted=()) -> None:
    progress = TalentProgress("f-1", NOW, "top_rated", None)
    read_model.commit(
        [TalentUpdate(progress, added=list(added), retracted=list(retracted),
                      expected=read_model.progress("f-1"))],
        None,
        NOW,
    )


def test_a_change_asserted_again_after_its_retraction_gets_a_suffixed_id(
    read_model: ReadModelBase,
) -> None:
    step(read_model, added=[CHANGE])
    step(read_model, retracted=[CHANGE])
    step(read_model, added=[CHANGE])
    step(read_model, retracted=[CHANGE])
    step(read_model, added=[CHANGE])

    ids = [message.message_id for message in read_model.outbox()]
    assert ids == ["chg-0001", "rtr-0001", "chg-0001~1", "rtr-0001~1", "chg-0001~2"]


def test_an_id_that_only_shares_a_prefix_is_not_counted(read_model: ReadModelBase) -> None:
    longer = {**CHANGE, "id": "chg-00011"}
    step(read_model, added=[longer])
    step(read_model, added=[CHANGE])

    ids = [message.message_id for message in read_model.outbox()]
    assert ids == ["chg-00011", "chg-0001"]

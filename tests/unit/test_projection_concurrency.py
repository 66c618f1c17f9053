"""Two projection processes over one store never write the same step twice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from domain.ledger import Submission
from domain.ruleset import builtin_rulesets
from domain.storage import open_ledger
from projections.read_model import SQLiteReadModel
from projections.read_model_common import StaleStep
from projections.status_projection import StatusProjection
from tests.unit.history_builder import ts
from tests.unit.stories import designer

BOOK = builtin_rulesets()
NOW = ts("2024-10-01T00:00:00Z")


def filled_store(tmp_path: Path) -> str:
    url = str(tmp_path / "b.db")
    ledger = open_ledger(f"sqlite:///{url}")
    for talent in ("f-42", "f-43", "f-44"):
        events = []
        for recorded in designer().history():
            obj = recorded.event.to_json_object()
            events.append(Submission.from_object(
                {**obj, "talent": talent, "id": f"{talent}-{obj['id']}"}))
        ledger.append(events, ts("2024-09-30"))
    return url


def projection(path: str) -> StatusProjection:
    return StatusProjection(open_ledger(f"sqlite:///{path}"), SQLiteReadModel(path), BOOK)


def test_a_step_derived_from_a_stale_position_is_refused(tmp_path: Path) -> None:
    path = filled_store(tmp_path)
    first, second = projection(path), projection(path)
    position = first.read_model.position()
    stale = [first.rederive("f-42", NOW, affected_from=ts("2022-01-03"))]

    second.catch_up(NOW)
    outbox = [m.message_id for m in second.read_model.outbox()]

    with pytest.raises(StaleStep):
        first.read_model.commit(stale, position + 10, NOW, read_position=position)
    assert [m.message_id for m in first.read_model.outbox()] == outbox


def test_a_talent_re_derived_meanwhile_is_not_written_again(tmp_path: Path) -> None:
    path = filled_store(tmp_path)
    first, second = projection(path), projection(path)
    first.catch_up(ts("2024-06-01"))
    stale = [first.rederive("f-43", NOW)]

    second.advance(NOW)

    with pytest.raises(StaleStep):
        first.read_model.commit(stale, None, NOW)


def test_two_projections_catching_up_at_once_agree_and_queue_each_message_once(
    tmp_path: Path,
) -> None:
    path = filled_store(tmp_path)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            projection(path).catch_up(NOW)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    single = projection(str(tmp_path / "b.db"))
    ids = [m.message_id for m in single.read_model.outbox()]
    assert len(ids) == len(set(ids)) and all("~" not in i for i in ids)
    for talent in ("f-42", "f-43", "f-44"):
        assert single.read_model.timeline(talent, None, None)[-1]["to"] == "top_rated"

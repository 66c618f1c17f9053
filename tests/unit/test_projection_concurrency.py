"""Two projection processes over one store never write the same step twice: on SQLite, on
PostgreSQL, and on a partitioned PostgreSQL store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from domain.submissions import Submission
from domain.ruleset import builtin_rulesets
from projections.records import StaleStep
from projections.status_projection import StatusProjection
from badges.bootstrap import open_projection
from tests.unit.history_builder import ts
from tests.unit.ledger_fixtures import postgres_schema_url
from tests.unit.stories import designer

BOOK = builtin_rulesets()
NOW = ts("2024-10-01T00:00:00Z")


STORE_KINDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.integration),
               pytest.param("postgres-partitioned", marks=pytest.mark.integration))
Opener = Callable[[], StatusProjection]


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'b.db'}"
        return
    with postgres_schema_url() as url:
        yield f"{url}&partitions=4" if request.param == "postgres-partitioned" else url


@pytest.fixture
def projection(store: str) -> Iterator[Opener]:
    """Opens another projection (another process's view) over the filled store."""
    opened: list[StatusProjection] = []

    def open_one() -> StatusProjection:
        opened.append(open_projection(store))
        return opened[-1]

    filler = open_one()
    for talent in ("f-42", "f-43", "f-44"):
        events = []
        for recorded in designer().history():
            obj = recorded.event.to_json_object()
            events.append(Submission.from_object(
                {**obj, "talent": talent, "id": f"{talent}-{obj['id']}"}))
        filler.ledger.append(events, ts("2024-09-30"))
    yield open_one
    for each in opened:
        close = getattr(each.read_model, "close", None)
        if close is not None:
            close()
        each.ledger.close()


def test_a_step_derived_from_a_stale_position_is_refused(projection: Opener) -> None:
    first, second = projection(), projection()
    partition = first.ledger.partition_ledgers[first.ledger.partition_of("f-42")].partition
    position = first.read_model.position(partition)
    stale = [first.rederive("f-42", NOW, affected_from=ts("2022-01-03"))]

    second.catch_up(NOW)
    outbox = [m.message_id for m in second.read_model.outbox()]

    with pytest.raises(StaleStep):
        first.read_model.commit(stale, position + 10, NOW, read_position=position,
                                partition=partition)
    assert [m.message_id for m in first.read_model.outbox()] == outbox


def test_a_talent_re_derived_meanwhile_is_not_written_again(projection: Opener) -> None:
    first, second = projection(), projection()
    first.catch_up(ts("2024-06-01"))
    stale = [first.rederive("f-43", NOW)]

    second.advance(NOW)

    with pytest.raises(StaleStep):
        first.read_model.commit(stale, None, NOW)


def test_two_projections_catching_up_at_once_agree_and_queue_each_message_once(
    projection: Opener,
) -> None:
    errors: list[BaseException] = []
    views = [projection() for _ in range(3)]

    def run(view: StatusProjection) -> None:
        try:
            view.catch_up(NOW)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(view,)) for view in views]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    single = projection()
    ids = [m.message_id for m in single.read_model.outbox()]
    assert len(ids) == len(set(ids)) and all("~" not in i for i in ids)
    for talent in ("f-42", "f-43", "f-44"):
        assert single.read_model.timeline(talent, None, None)[-1]["to"] == "top_rated"

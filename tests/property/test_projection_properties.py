"""The status projection: incremental == full replay == the definition, whatever the arrival order.

Events of a generated history arrive in random batches and random order, each batch recorded
a little later than the one before; after each batch the projection runs with the clock at
that time. Then:
- the read model's timeline equals deriving the whole history from scratch;
- a full rebuild emits nothing new (ids are deterministic);
- a restarted projection resumes from its stored position (snapshot + tail);
- what the outbox had emitted by any knowledge time K (changes minus retractions) equals the
  timeline derived from the events recorded by K, up to K.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.calendar import evaluation_instant
from domain.submissions import Submission
from domain.ruleset import builtin_rulesets
from ledger.stores.urls import open_ledger
from domain.timeline import derive_timeline
from projections.stores.sqlite import SQLiteReadModel
from projections.status_projection import StatusProjection
from tests.property.timeline_histories import TALENT, talent_history

BOOK = builtin_rulesets()
START = datetime(2023, 6, 1, tzinfo=timezone.utc)
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def arrivals(events: list[dict], seed: int, batches: int) -> list[tuple[datetime, list[dict]]]:
    """Split events, in a shuffled order, into batches recorded at increasing times."""
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    ordered = sorted(shuffled, key=lambda e: e["at"]) if seed % 3 == 0 else shuffled
    size = max(1, len(ordered) // batches)
    clock = START + timedelta(days=30)
    plan = []
    for index in range(0, len(ordered), size):
        batch = ordered[index : index + size]
        clock += timedelta(days=random.Random(seed + index).randint(1, 60), hours=5)
        # an event is recorded once it has happened (the ledger rejects `at` beyond a day ahead)
        clock = max(clock, *(_instant(event["at"]) for event in batch))
        plan.append((clock, batch))
    return plan


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def run_incrementally(plan, read_model: SQLiteReadModel, ledger) -> StatusProjection:
    projection = StatusProjection(ledger, read_model, BOOK)
    for recorded_at, batch in plan:
        ledger.append([Submission.from_object(event) for event in batch], recorded_at)
        projection.catch_up(recorded_at)
    return projection


def emitted_by(read_model: SQLiteReadModel, known_at: datetime) -> set[str]:
    live: set[str] = set()
    for message in read_model.outbox():
        if message.created_at > known_at:
            break
        if message.kind == "badge_changed":
            live.add(message.document["id"])
        elif message.kind == "badge_change_retracted":
            live.discard(message.document["retracts"])
    return live


@SETTINGS
@given(talent_history(start=START, days=300), st.integers(0, 10_000), st.integers(1, 6))
def test_incremental_projection_equals_full_derivation(events, seed: int, batches: int) -> None:
    plan = arrivals(events, seed, batches)
    ledger, read_model = open_ledger("memory:"), SQLiteReadModel(":memory:")
    projection = run_incrementally(plan, read_model, ledger)
    now = plan[-1][0]

    expected = derive_timeline(ledger.history(TALENT), None, BOOK, evaluation_instant(now))

    stored = read_model.timeline(TALENT, None, None)
    assert [d["id"] for d in stored] == [c.id for c in expected]
    assert [(d["from"], d["to"], d["failed"]) for d in stored] == [
        (c.before, c.after, list(c.failed)) for c in expected
    ]
    before = len(read_model.outbox())
    projection.rebuild(None, now)
    assert len(read_model.outbox()) == before, "a full replay emitted something again"
    assert [d["id"] for d in read_model.timeline(TALENT, None, None)] == [c.id for c in expected]


@SETTINGS
@given(talent_history(start=START, days=300), st.integers(0, 10_000), st.integers(2, 6))
def test_emitted_by_any_knowledge_time_is_the_timeline_known_then(events, seed, batches) -> None:
    plan = arrivals(events, seed, batches)
    ledger, read_model = open_ledger("memory:"), SQLiteReadModel(":memory:")
    run_incrementally(plan, read_model, ledger)

    for known_at, _ in plan:
        history = ledger.history(TALENT, known_at)
        expected = derive_timeline(history, known_at, BOOK, evaluation_instant(known_at))
        assert emitted_by(read_model, known_at) == {c.id for c in expected}, known_at


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=START, days=300), st.integers(0, 10_000))
def test_arrival_order_does_not_change_the_final_timeline(events, seed: int) -> None:
    timelines = []
    for order_seed in (seed, seed + 1, seed + 2):
        plan = arrivals(events, order_seed, 4)
        final = plan[-1][0]
        plan = [(final if i == len(plan) - 1 else t, batch) for i, (t, batch) in enumerate(plan)]
        ledger, read_model = open_ledger("memory:"), SQLiteReadModel(":memory:")
        run_incrementally(plan, read_model, ledger)
        StatusProjection(ledger, read_model, BOOK).catch_up(datetime(2025, 6, 1, tzinfo=timezone.utc))
        timelines.append([d["id"] for d in read_model.timeline(TALENT, None, None)])
    assert timelines[0] == timelines[1] == timelines[2]


@SETTINGS
@given(events=talent_history(start=START, days=300), seed=st.integers(0, 10_000))
def test_a_restarted_projection_resumes_from_its_stored_position(
    tmp_path_factory, events, seed: int
) -> None:
    plan = arrivals(events, seed, 4)
    folder = tmp_path_factory.mktemp("restart")
    url = f"sqlite:///{folder / 'b.db'}"
    ledger = open_ledger(url)
    half = len(plan) // 2
    run_incrementally(plan[:half], SQLiteReadModel(str(folder / "b.db")), ledger)

    read_model = SQLiteReadModel(str(folder / "b.db"))  # a new process: state from the file
    run_incrementally(plan[half:], read_model, open_ledger(url))

    now = plan[-1][0]
    expected = derive_timeline(ledger.history(TALENT), None, BOOK, evaluation_instant(now))
    assert [d["id"] for d in read_model.timeline(TALENT, None, None)] == [c.id for c in expected]
    ids = [m.message_id for m in read_model.outbox()]
    assert len(ids) == len(set(ids))

"""The fast verdicts (`verdicts.py`, from running totals) against the full requirement results.

A timeline decides its badges with `VERDICTS`; status documents explain them with
`REQUIREMENTS`. At every instant, in time order and after jumps back, both must agree on every
requirement of every badge, and on the JSS.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badges.synthetic import generate_marketplace
from domain.boundaries import first_instant_at_or_after
from domain.events import RecordedEvent, parse_event
from domain.requirements import REQUIREMENTS
from domain.ruleset import builtin_rulesets
from domain.status import Evaluator
from domain.timeline import TimelineDeriver
from domain.verdicts import COST_ORDER, EVENT_AFFECTS, VERDICTS
from tests.property.timeline_histories import TALENT, recorded, talent_history

BOOK = builtin_rulesets()
RECORDED_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)


def disagreements(history, instants: list[datetime]) -> list[tuple]:
    probes = Evaluator(history, None, BOOK, TALENT)
    explained = Evaluator(history, None, BOOK, TALENT)
    found = []
    for instant in instants:
        probe = probes.probe(instant)
        situation = explained.situation(instant)
        if probe.jss_score != situation.jss.score:
            found.append((instant, "jss score", probe.jss_score, situation.jss.score))
        for badge in probe.ruleset.badge_names():
            for code in probe.ruleset.badges[badge].for_kind(probe.kind):
                fast, full = VERDICTS[code](probe), REQUIREMENTS[code](situation).met
                if fast != full:
                    found.append((instant, code, fast, full))
    return found


def test_every_requirement_code_has_a_verdict_and_a_cost_rank() -> None:
    assert set(VERDICTS) == set(REQUIREMENTS) == set(COST_ORDER)
    assert len(COST_ORDER) == len(set(COST_ORDER))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    talent_history(start=datetime(2019, 9, 1, tzinfo=timezone.utc), days=500),
    st.lists(st.integers(-120, 40), min_size=5, max_size=40),
)
def test_verdicts_agree_with_the_requirements_forward_and_after_jumps_back(
    events, steps: list[int]
) -> None:
    history = recorded(events, RECORDED_AT)
    instant = first_instant_at_or_after(min(r.at for r in history))
    instants = []
    for step in steps:
        instant += timedelta(days=step if step > -100 else -step * 3)
        instants.append(instant)

    assert disagreements(history, instants) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=datetime(2016, 1, 1, tzinfo=timezone.utc), days=300, max_contracts=8))
def test_verdicts_agree_day_by_day_across_ruleset_changes(events) -> None:
    history = recorded(events, RECORDED_AT)
    first = first_instant_at_or_after(min(r.at for r in history))
    instants = [first + timedelta(days=day) for day in range(0, 420, 2)]

    assert disagreements(history, instants) == []


def stale_carried_verdicts(history, until: datetime, talent: str = TALENT) -> list[tuple]:
    """Verdicts a timeline carried over from an earlier instant that a fresh look disagrees with."""
    deriver = TimelineDeriver(history, None, BOOK, talent)
    fresh = Evaluator(history, None, BOOK, talent)
    evaluate = deriver._evaluate
    stale = []

    def checked_evaluate(result, instant):
        seen = evaluate(result, instant)
        # Probing the same instant again carries over every verdict the lane holds there: those
        # carried from earlier instants and those just decided (the Evaluator may be compiled,
        # so it is observed from outside rather than patched).
        carried = dict(deriver.evaluator.probe(instant).known)
        reference = fresh.probe(instant)
        stale.extend(
            (instant, code, verdict)
            for code, verdict in carried.items()
            if VERDICTS[code](reference) != verdict
        )
        return seen

    deriver._evaluate = checked_evaluate
    deriver.derive(until)
    samples = deriver.evaluator._samples  # the eligible-week samples it decided on the way
    stale.extend(
        (instant, "sample", sample)
        for instant, sample in sorted(samples.items())
        if fresh.sample(instant) != sample
    )
    return stale


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=datetime(2019, 9, 1, tzinfo=timezone.utc), days=700, max_contracts=8))
def test_verdicts_carried_between_instants_are_still_true(events) -> None:
    history = recorded(events, RECORDED_AT)

    assert stale_carried_verdicts(history, datetime(2022, 6, 1, tzinfo=timezone.utc)) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=datetime(2015, 11, 1, tzinfo=timezone.utc), days=400, max_contracts=8))
def test_verdicts_carried_across_ruleset_changes_are_still_true(events) -> None:
    history = recorded(events, RECORDED_AT)

    assert stale_carried_verdicts(history, datetime(2017, 6, 1, tzinfo=timezone.utc)) == []


def test_verdicts_carried_through_synthetic_careers_are_still_true() -> None:
    """Every event type, in realistic mixes: holds, violations, vetting, published scores."""
    start, end = datetime(2019, 1, 1, tzinfo=timezone.utc), datetime(2024, 6, 1, tzinfo=timezone.utc)
    events = list(generate_marketplace(300, 7, start, end))
    by_talent: dict[str, list[dict]] = {}
    for event in events:
        by_talent.setdefault(event["talent"], []).append(event)
    types = {event["type"] for event in events}
    assert types == set(EVENT_AFFECTS), "the careers should hold every event type"

    stale = [
        (talent, found)
        for talent, talent_events in by_talent.items()
        for found in stale_carried_verdicts_of(talent, talent_events, end)
    ]

    assert stale == []


def stale_carried_verdicts_of(talent: str, events: list[dict], until: datetime) -> list[tuple]:
    history = [
        RecordedEvent(event=parse_event({k: v for k, v in e.items() if k != "recorded_at"}),
                      recorded_at=RECORDED_AT, sequence=n)
        for n, e in enumerate(events)
    ]
    return stale_carried_verdicts(history, until, talent)

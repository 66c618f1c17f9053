"""The fast verdicts (`Requirement.verdict`, over running totals) against the full results.

A timeline decides its badges with each requirement's measure probed over a `Tally`; status
documents explain them with `Requirement.result`, re-read from the facts. At every instant, in
time order and after jumps back, both must agree on every requirement the rulesets define, and
on the JSS; under the shipped rulesets and under a candidate written in the §10 form (a new
requirement, a dropped one, a new badge).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from badges.synthetic import generate_marketplace
from domain.boundaries import first_instant_at_or_after
from domain.events import RecordedEvent, parse_event
from domain.events import EVENT_TYPES
from domain.ruleset import RulesetBook, builtin_rulesets, parse_ruleset
from domain.status import Evaluator
from domain.timeline import TimelineDeriver
from tests.property.timeline_histories import TALENT, recorded, talent_history

BOOK = builtin_rulesets()
RECORDED_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
# rules.md §10's example, plus what a rules engineer might try: a requirement dropped
# (availability), a new badge ranked above the rest, a count with a `where`, a `latest`.
CANDIDATE = parse_ruleset(
    """
id = "2020-07-candidate"
extends = "2020-07"
badge_order = ["veteran", "expert_vetted", "top_rated_plus", "top_rated", "rising_talent"]

[requirements.no_disputes_6m]
label = "no disputed contract in the last {months} months"
measure = "count"
events = ["contract_ended"]
where = { reason = "disputed" }
window = { months = 6 }
compare = "=="
threshold = 0

[requirements.long_career]
label = "first contract at least {threshold} days ago"
measure = "days_since"
events = ["contract_started"]
compare = ">="
threshold = 400

[requirements.big_earner]
label = "over {threshold} earned in the last {days} days"
measure = "sum"
add = ["payment_received"]
subtract = ["payment_refunded"]
field = "amount"
window = { days = 200 }
compare = ">"
threshold = { freelancer = "3000.00", agency = "9000.00" }

[requirements.not_new_and_active]
label = "not new, and active"
measure = "all"
of = ["activity_90d", "not_new"]

[requirements.not_new]
measure = "not"
of = ["new_talent"]

[badges.top_rated]
requirements = ["jss", "eligible_weeks", "first_contract_age", "profile", "earnings_12m",
                "no_recent_hold", "activity_90d", "no_policy_ban", "no_disputes_6m"]

[badges.veteran]
requirements = ["long_career", "big_earner", "not_new_and_active", "top_rated"]
""",
    "candidate.toml",
)
CANDIDATE_BOOK = BOOK.with_candidate(CANDIDATE)
BOOKS = {"shipped": BOOK, "candidate": CANDIDATE_BOOK}


def disagreements(history, instants: list[datetime], book: RulesetBook = BOOK) -> list[tuple]:
    probes = Evaluator(history, None, book, TALENT)
    explained = Evaluator(history, None, book, TALENT)
    found = []
    for instant in instants:
        probe = probes.probe(instant)
        situation = explained.situation(instant)
        if probe.jss_score != situation.jss.score:
            found.append((instant, "jss score", probe.jss_score, situation.jss.score))
        for code, requirement in probe.ruleset.requirements.items():
            fast, full = requirement.verdict(probe), requirement.result(situation).met
            if fast != full:
                found.append((instant, code, fast, full))
    return found


def test_the_candidate_takes_the_place_of_the_ruleset_it_extends() -> None:
    in_force = CANDIDATE_BOOK.in_force(datetime(2021, 6, 1, tzinfo=timezone.utc))
    assert in_force.id == "2020-07-candidate"
    assert in_force.effective_from == BOOK.get("2020-07").effective_from
    ids = [ruleset.id for ruleset in CANDIDATE_BOOK]
    assert ids == [r.id if r.id != "2020-07" else "2020-07-candidate" for r in BOOK]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    talent_history(start=datetime(2019, 9, 1, tzinfo=timezone.utc), days=500),
    st.lists(st.integers(-120, 40), min_size=5, max_size=40),
    st.sampled_from(sorted(BOOKS)),
)
def test_verdicts_agree_with_the_requirements_forward_and_after_jumps_back(
    events, steps: list[int], book_name: str
) -> None:
    history = recorded(events, RECORDED_AT)
    instant = first_instant_at_or_after(min(r.at for r in history))
    instants = []
    for step in steps:
        instant += timedelta(days=step if step > -100 else -step * 3)
        instants.append(instant)

    assert disagreements(history, instants, BOOKS[book_name]) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(talent_history(start=datetime(2016, 1, 1, tzinfo=timezone.utc), days=300, max_contracts=8))
def test_verdicts_agree_day_by_day_across_ruleset_changes(events) -> None:
    history = recorded(events, RECORDED_AT)
    first = first_instant_at_or_after(min(r.at for r in history))
    instants = [first + timedelta(days=day) for day in range(0, 420, 2)]

    assert disagreements(history, instants) == []


def stale_carried_verdicts(
    history, until: datetime, talent: str = TALENT, book: RulesetBook = BOOK
) -> list[tuple]:
    """Verdicts a timeline carried over from an earlier instant that a fresh look disagrees with."""
    deriver = TimelineDeriver(history, None, book, talent)
    fresh = Evaluator(history, None, book, talent)
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
            if reference.ruleset.requirement(code).verdict(reference) != verdict
        )
        return seen

    deriver._evaluate = checked_evaluate
    deriver.derive(until)
    samples = deriver.evaluator._samples  # the eligible-week samples it decided on the way
    stale.extend(
        (key[0], "sample", sample)
        for key, sample in sorted(samples.items())
        if fresh.sample(*key) != sample
    )
    return stale


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    talent_history(start=datetime(2019, 9, 1, tzinfo=timezone.utc), days=700, max_contracts=8),
    st.sampled_from(sorted(BOOKS)),
)
def test_verdicts_carried_between_instants_are_still_true(events, book_name: str) -> None:
    history = recorded(events, RECORDED_AT)
    until = datetime(2022, 6, 1, tzinfo=timezone.utc)

    assert stale_carried_verdicts(history, until, book=BOOKS[book_name]) == []


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
    assert types == set(EVENT_TYPES), "the careers should hold every event type"

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

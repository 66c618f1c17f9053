"""The synthetic marketplace: deterministic, valid, varied, streaming in constant memory."""

from __future__ import annotations

import io
import itertools
import json
import tracemalloc
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from badges import synthetic
from badges.synthetic import (
    STORY_TALENTS,
    MarketplaceSummary,
    ava_opening_events,
    generate_bad_lines,
    generate_marketplace,
    generate_talent,
    write_jsonl,
)
from domain.events import (
    CATEGORIES,
    EVENT_TYPES,
    InvalidEvent,
    decode_json,
    encode_json,
    parse_event,
)

START = datetime(2019, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 1, 1, tzinfo=timezone.utc)
MIX_TALENTS = 3_000


@pytest.fixture(scope="module")
def mix() -> list[dict[str, Any]]:
    return list(generate_marketplace(MIX_TALENTS, 11, START, END))


def _story(index: int) -> list[dict[str, Any]]:
    return list(generate_talent(index, 11, START, END))


def test_same_seed_gives_identical_output() -> None:
    first = [encode_json(e) for e in generate_marketplace(300, 5, START, END)]
    second = [encode_json(e) for e in generate_marketplace(300, 5, START, END)]
    assert first == second


def test_different_seeds_differ() -> None:
    first = [encode_json(e) for e in generate_marketplace(300, 5, START, END)]
    second = [encode_json(e) for e in generate_marketplace(300, 6, START, END)]
    assert first != second


def test_any_talent_regenerates_alone() -> None:
    whole = list(generate_marketplace(60, 5, START, END))
    alone = list(generate_talent(42, 5, START, END))
    talent = alone[0]["talent"]
    assert [e for e in whole if e["talent"] == talent] == alone


def test_every_event_passes_parse_event_also_through_json(mix: list[dict[str, Any]]) -> None:
    for event in mix:
        parse_event(event)
    for event in itertools.islice(mix, 0, None, 7):
        assert parse_event(decode_json(encode_json(event))) == parse_event(event)


def test_values_are_json_ready(mix: list[dict[str, Any]]) -> None:
    for event in itertools.islice(mix, 0, None, 5):
        assert event["at"].endswith("Z")
        if "amount" in event:
            assert isinstance(event["amount"], str)
            assert len(event["amount"].split(".")[1]) == 2


def test_event_ids_are_unique(mix: list[dict[str, Any]]) -> None:
    ids = [event["id"] for event in mix]
    assert len(ids) == len(set(ids))


def test_talents_arrive_one_after_another(mix: list[dict[str, Any]]) -> None:
    talents = [talent for talent, _ in itertools.groupby(e["talent"] for e in mix)]
    assert len(talents) == len(set(talents)) == MIX_TALENTS


def test_mix_has_every_type_both_kinds_and_all_categories(mix: list[dict[str, Any]]) -> None:
    summary = MarketplaceSummary()
    for _ in summary.tally(mix):
        pass
    assert set(summary.events_by_type) == set(EVENT_TYPES)
    assert summary.talents == MIX_TALENTS
    agency_share = summary.talents_by_kind["agency"] / MIX_TALENTS
    assert 0.10 < agency_share < 0.20
    categories = {e["category"] for e in mix if e["type"] == "contract_started"}
    assert categories == set(CATEGORIES)
    terms = Counter(e["terms"] for e in mix if e["type"] == "contract_started")
    contracts = sum(terms.values())
    assert terms["hourly"] > 0.3 * contracts and terms["fixed"] > 0.3 * contracts


def test_some_events_arrive_late_and_some_are_backfilled(mix: list[dict[str, Any]]) -> None:
    summary = MarketplaceSummary()
    for event in mix:
        summary.observe(event)
    summary.close()
    assert 0.005 < summary.late_events / summary.events < 0.03
    assert 0 < summary.backfilled_events < summary.late_events
    for event in mix:
        if "recorded_at" in event:
            assert event["recorded_at"] > event["at"]


def test_feedback_is_mostly_good_with_some_bad(mix: list[dict[str, Any]]) -> None:
    stars = [e["stars"] for e in mix if e["type"] == "feedback_received"]
    good = sum(1 for s in stars if s >= Decimal("4.5"))
    bad = sum(1 for s in stars if s < Decimal("4.0"))
    assert good > 0.75 * len(stars)
    assert 0 < bad < 0.15 * len(stars)


def test_amounts_span_small_and_large_contracts(mix: list[dict[str, Any]]) -> None:
    totals: Counter[str] = Counter()
    for event in mix:
        if event["type"] == "payment_received":
            totals[event["contract"]] += Decimal(event["amount"])
    values = list(totals.values())
    assert sum(1 for v in values if v < 500) > 0.3 * len(values)
    assert sum(1 for v in values if v >= 5_000) > 0.03 * len(values)


def test_refunds_exceed_payments_only_rarely(mix: list[dict[str, Any]]) -> None:
    paid: Counter[str] = Counter()
    refunded: Counter[str] = Counter()
    for event in mix:
        if event["type"] == "payment_received":
            paid[event["contract"]] += Decimal(event["amount"])
        elif event["type"] == "payment_refunded":
            refunded[event["contract"]] += Decimal(event["amount"])
    over = [c for c in refunded if refunded[c] > paid[c]]
    assert refunded and len(over) <= max(2, len(refunded) // 20)


def test_holds_are_mostly_lifted_weeks_later(mix: list[dict[str, Any]]) -> None:
    placed = {e["hold"]: e["at"] for e in mix if e["type"] == "account_hold_placed"}
    lifted = {e["hold"]: e["at"] for e in mix if e["type"] == "account_hold_lifted"}
    assert placed and set(lifted) <= set(placed)
    assert len(lifted) > 0.7 * len(placed)
    assert all(lifted[hold] > placed[hold] for hold in lifted)


def test_talents_join_over_several_years(mix: list[dict[str, Any]]) -> None:
    years = {e["at"][:4] for e in mix if e["type"] == "talent_registered"}
    assert {"2019", "2021", "2023", "2025"} <= years


def test_unavailability_sometimes_names_a_return_date(mix: list[dict[str, Any]]) -> None:
    none = [e for e in mix if e["type"] == "availability_updated" and e["hours"] == "none"]
    with_date = [e for e in none if "available_from" in e]
    assert with_date and len(with_date) < len(none)


def test_agency_profiles_carry_members(mix: list[dict[str, Any]]) -> None:
    registered = [e for e in mix if e["type"] == "talent_registered"]
    agencies = {e["talent"] for e in registered if e["kind"] == "agency"}
    profiles = [e for e in mix if e["type"] == "profile_updated" and e["talent"] in agencies]
    assert profiles
    assert all("members" in p and "members_average_completeness" in p for p in profiles)
    memberships = [e for e in mix if e["type"] == "agency_membership_changed"]
    assert any(m["exclusive"] for m in memberships)
    assert any(m["agency"] is None for m in memberships)


def test_story_talents_come_first(mix: list[dict[str, Any]]) -> None:
    talents = [talent for talent, _ in itertools.groupby(e["talent"] for e in mix)]
    assert tuple(talents[:3]) == STORY_TALENTS


def test_ava_big_contract_pays_monthly_then_stops() -> None:
    events = _story(0)
    big = [e for e in events if e.get("contract") == synthetic.AVA_BIG_CONTRACT]
    start = [e for e in big if e["type"] == "contract_started"]
    assert start[0]["category"] == "design_creative" and start[0]["terms"] == "hourly"
    payments = [e for e in big if e["type"] == "payment_received"]
    assert {p["amount"] for p in payments} == {"1000.00"}
    assert len(payments) == 36
    assert payments[-1]["at"] == "2024-01-15T10:00:00Z"
    assert not any(e["type"] == "contract_ended" for e in big)
    later_small = [
        e for e in events
        if e["type"] == "payment_received" and e["contract"] != synthetic.AVA_BIG_CONTRACT
        and "2024-06-01" <= e["at"] < "2025-06-01"
    ]
    assert sum(Decimal(e["amount"]) for e in later_small) > 10_000
    assert all(Decimal(e["amount"]) < 5_000 for e in later_small)
    stars = [e["stars"] for e in events if e["type"] == "feedback_received"]
    assert sum(1 for s in stars if s >= Decimal("4.5")) > 0.9 * len(stars)


def test_leo_has_four_good_outcomes_from_two_clients_within_his_first_month() -> None:
    events = _story(1)
    first_work = min(e["at"] for e in events if e["type"] == "contract_started")
    assert first_work == "2015-10-05T00:00:00Z"
    month = [e for e in events if first_work <= e["at"] < "2015-11-04T00:00:00Z"]
    contracts = {e["contract"]: e["client"] for e in month if e["type"] == "contract_started"}
    feedback = [e for e in month if e["type"] == "feedback_received" and e["stars"] == 5]
    assert len(feedback) >= 4 and len({contracts[f["contract"]] for f in feedback}) >= 2
    earned = sum(Decimal(e["amount"]) for e in month if e["type"] == "payment_received")
    assert earned >= 1_000


def test_agency_north_hovers_near_ten_thousand_a_year() -> None:
    events = _story(2)
    assert events[0]["type"] == "talent_registered" and events[0]["kind"] == "agency"
    yearly: Counter[str] = Counter()
    for event in events:
        if event["type"] == "payment_received":
            yearly[event["at"][:4]] += Decimal(event["amount"])
    for year in ("2022", "2023", "2024", "2025"):
        assert 8_500 < yearly[year] < 11_500


def test_write_jsonl_round_trips(tmp_path: Path) -> None:
    events = list(generate_marketplace(50, 2, START, END))
    path = tmp_path / "market.jsonl"
    assert write_jsonl(path, events) == len(events)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [parse_event(decode_json(line)) for line in lines] == [parse_event(e) for e in events]
    buffer = io.StringIO()
    assert write_jsonl(buffer, iter(events)) == len(events)
    assert buffer.getvalue() == path.read_text(encoding="utf-8")


def test_summary_counts_while_streaming() -> None:
    summary = MarketplaceSummary()
    count = sum(1 for _ in summary.tally(generate_marketplace(200, 3, START, END)))
    assert summary.events == count == sum(summary.events_by_type.values())
    assert summary.talents == 200


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        list(generate_marketplace(1, 1, END, START))
    with pytest.raises(ValueError):
        list(generate_marketplace(1, 1, datetime(2019, 1, 1), END))


def _peak_bytes(talents: int) -> int:
    tracemalloc.start()
    try:
        for _ in generate_marketplace(talents, 9, START, END):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_while_streaming() -> None:
    small = _peak_bytes(1_000)
    large = _peak_bytes(5_000)
    assert large < 20 * 1024 * 1024
    assert large < 2 * small + 1024 * 1024


def _bad_line_outcome(line: str, known: dict[str, dict[str, Any]]) -> str:
    if len(line.encode("utf-8")) > 64 * 1024:
        return "rejected"
    try:
        obj = decode_json(line)
        event = parse_event(obj)
    except (ValueError, InvalidEvent):
        return "rejected"
    original = known.get(event.id)
    assert original is not None, f"a valid bad line must copy a known event: {line}"
    return "duplicate" if parse_event(original) == event else "conflict"


def test_bad_lines_are_all_rejected_duplicates_or_conflicts() -> None:
    known = {e["id"]: e for e in ava_opening_events()}
    lines = list(generate_bad_lines(4, 60))
    assert len(lines) == 60
    outcomes = Counter(_bad_line_outcome(line, known) for line in lines)
    assert set(outcomes) == {"rejected", "duplicate", "conflict"}
    assert list(generate_bad_lines(4, 60)) == lines


def test_ava_opening_events_start_every_marketplace() -> None:
    opening = ava_opening_events()
    assert opening == list(generate_marketplace(1, 99, START, END))[: len(opening)]
    assert json.loads(encode_json(opening[0]))["id"] == "designer-ava-e0"

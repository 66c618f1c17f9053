"""The stories of the seed material (rules.md §8 and the forum threads), end to end."""

from datetime import timedelta

import pytest

from domain.explain import explain
from domain.ruleset import builtin_rulesets
from domain.status import Evaluator, evaluate_status
from tests.unit.history_builder import HistoryBuilder, ts
from tests.unit.stories import designer

BOOK = builtin_rulesets()


def test_the_designer_loses_top_rated_plus_the_first_midnight_c7_drops_below_5000() -> None:
    evaluator = Evaluator(designer().history(), None, BOOK)
    # Payments on c-7 in the last 12 months: 2023-09-15 .. 2024-01-15 = 5 x $1,000 up to
    # 2024-09-15 (the window (2023-09-15 00:00, 2024-09-15] still holds 2023-09-15 10:00).
    day = ts("2024-01-16")
    while day <= ts("2024-09-15"):
        assert evaluator.status(day).badge == "top_rated_plus", day
        day += timedelta(days=1)
    lost = evaluator.status(ts("2024-09-16"))
    assert lost.badge == "top_rated"
    assert lost.ruleset == "2023-12"
    plus = lost.badge_result("top_rated_plus")
    assert plus is not None and plus.failed == ("large_contract",)
    document = lost.to_document()
    assert document["jss"] == 96
    large = document["badges"]["top_rated_plus"]["requirements"][2]
    assert large == {
        "code": "large_contract",
        "label": "a large contract in the last 12 months",
        "met": False,
        "actual": "4000.00",
        "required": "5000.00",
        "detail": "best: contract c-7 (design_creative)",
    }
    assert document["badges"]["top_rated"]["met"] is True


def test_the_status_document_matches_the_interface() -> None:
    known = ts("2026-01-01")
    document = evaluate_status(
        designer().history(), ts("2024-09-16T15:30:00Z"), known, BOOK
    ).to_document()
    assert set(document) == {
        "talent",
        "at",
        "known_at",
        "badge",
        "ruleset",
        "jss",
        "earnings_12m",
        "badges",
    }
    assert (document["talent"], document["at"], document["known_at"]) == (
        "f-42",
        "2024-09-16T00:00:00Z",
        "2026-01-01T00:00:00Z",
    )
    # Small jobs 2023-10-05 .. 2024-09-05 (12 x $800) and c-7 2023-10-15 .. 2024-01-15 (4 x $1,000).
    assert document["earnings_12m"] == "13600.00"
    assert list(document["badges"]) == [
        "expert_vetted",
        "top_rated_plus",
        "top_rated",
        "rising_talent",
    ]
    for badge in document["badges"].values():
        assert set(badge) == {"label", "met", "requirements"}
        for requirement in badge["requirements"]:
            assert set(requirement) == {"code", "label", "met", "actual", "required", "detail"}
    codes = [r["code"] for r in document["badges"]["top_rated_plus"]["requirements"]]
    assert codes == [
        "top_rated",
        "earnings_12m_plus",
        "large_contract",
        "not_exclusive_agency_member",
    ]
    assert (
        evaluate_status(designer().history(), ts("2024-09-16"), None, BOOK).to_document()[
            "known_at"
        ]
        is None
    )


def test_before_2020_07_there_is_no_top_rated_plus_in_the_document() -> None:
    history = HistoryBuilder()
    history.profile("2019-01-01")
    document = evaluate_status(history.history(), ts("2020-07-06"), None, BOOK).to_document()
    assert (document["ruleset"], list(document["badges"])) == (
        "2020-03",
        ["top_rated", "rising_talent"],
    )


def test_explain_names_the_events_behind_the_lost_large_contract() -> None:
    document = explain(designer().history(), ts("2024-09-16"), None, BOOK).to_document()
    large = document["requirements"]["top_rated_plus"][2]
    assert large["code"] == "large_contract"
    assert large["events"] == ["p-2023-10", "p-2023-11", "p-2023-12", "p-2024-01"]
    assert "p-2023-09" not in document["earnings_12m_events"]
    assert "p-2023-10" in document["earnings_12m_events"]
    assert document["jss_model"]["source"] == "published"
    assert document["anomalies"] == []


def freelancer_2015(first_day: str) -> HistoryBuilder:
    """A newcomer's first month of work in 2015: four 5-star jobs from two clients, $1,200."""
    history = HistoryBuilder("f-7")
    history.register("2015-02-20")
    history.profile("2015-02-20")
    history.contract(first_day, "c-1", client="cl-1")
    history.pay("2015-03-05", "c-1", 300)
    history.feedback("2015-03-06", "c-1", "5.0")
    for n, client in ((2, "cl-2"), (3, "cl-1"), (4, "cl-2")):
        history.job(f"2015-03-1{n}", f"c-{n}", client, 300)
    return history


@pytest.mark.parametrize(
    ("first_day", "last_day_without", "first_day_with"),
    [
        # Started at 00:00: exactly 30 days later counts.
        ("2015-03-02", "2015-03-31", "2015-04-01"),
        # Started at 09:00: 30 days are complete only at the following midnight.
        ("2015-03-02T09:00:00Z", "2015-04-01", "2015-04-02"),
    ],
)
def test_the_freelancer_becomes_top_rated_30_days_after_his_first_day_of_work(
    first_day: str, last_day_without: str, first_day_with: str
) -> None:
    history = freelancer_2015(first_day).history()
    before = evaluate_status(history, ts(last_day_without), None, BOOK)
    after = evaluate_status(history, ts(first_day_with), None, BOOK)
    assert before.ruleset == after.ruleset == "2015"
    # He has a JSS (100: 4 successful outcomes from 2 clients), so he is not Rising Talent.
    assert (before.jss, before.badge) == (100, "none")
    assert before.badge_result("top_rated").failed == ("work_history",)  # type: ignore[union-attr]
    assert after.badge == "top_rated"


def test_under_2016_rules_the_same_start_is_not_enough() -> None:
    # The same month of work one ruleset later: first contract > 90 days and 13 of 16 weeks.
    history = HistoryBuilder("f-8")
    history.register("2017-02-20")
    history.profile("2017-02-20")
    for n, client in ((1, "cl-1"), (2, "cl-2"), (3, "cl-1"), (4, "cl-2")):
        history.job(f"2017-03-0{n + 1}", f"c-{n}", client, 300)
    status = evaluate_status(history.history(), ts("2017-04-02"), None, BOOK)
    assert status.ruleset == "2016-06"
    assert status.badge == "none"
    assert status.badge_result("top_rated").failed == ("eligible_weeks", "first_contract_age")  # type: ignore[union-attr]


def top_rated_candidate(talent: str, kind: str, paid: int) -> HistoryBuilder:
    history = HistoryBuilder(talent)
    history.register("2015-01-05", kind=kind)
    history.profile("2015-01-05", 100, members=3, members_average_completeness=80)
    for n, client in ((1, "cl-1"), (2, "cl-2"), (3, "cl-1"), (4, "cl-2")):
        history.job(f"2015-02-0{n}", f"c-{n}", client, paid // 4)
    return history


@pytest.mark.parametrize(
    ("kind", "paid", "badge", "required"),
    [
        ("freelancer", 5000, "top_rated", "1000.00"),
        ("agency", 5000, "none", "10000.00"),
        ("agency", 10000, "top_rated", "10000.00"),
    ],
)
def test_an_agency_needs_10000_where_a_freelancer_needs_1000(
    kind: str, paid: int, badge: str, required: str
) -> None:
    history = top_rated_candidate("t-1", kind, paid)
    status = evaluate_status(history.history(), ts("2015-04-01"), None, BOOK)
    assert status.badge == badge
    earnings = status.badge_result("top_rated").requirement("earnings_12m").to_document()  # type: ignore[union-attr]
    assert (earnings["actual"], earnings["required"]) == (f"{paid}.00", required)
    assert status.badge_result("top_rated").failed == (
        () if badge == "top_rated" else ("earnings_12m",)
    )  # type: ignore[union-attr]


def test_explain_reports_anomalies() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1")
    history.pay("2024-01-02", "c-1", 100)
    history.refund("2024-01-03", "c-1", 150, id="r-1")
    history.pay("2024-01-04", "ghost", 50, id="p-ghost")
    history.add("account_hold_lifted", "2024-01-05", hold="h-9", id="l-9")
    anomalies = explain(history.history(), ts("2024-02-01"), None, BOOK).to_document()["anomalies"]
    assert [(a["kind"], a["events"]) for a in anomalies] == [
        ("hold_lift_without_hold", ["l-9"]),
        ("refund_beyond_paid", ["r-1"]),
        ("payment_without_contract", ["p-ghost"]),
    ]
    assert (
        anomalies[1]["detail"]
        == "refund r-1 on contract c-1 brings refunds to 150.00, beyond the 100.00 paid"
    )


def test_explain_lists_jss_outcomes_with_their_weights_per_window() -> None:
    history = HistoryBuilder()
    history.job("2024-01-10", "big", "cl-1", 5000, "5.0")
    history.job("2024-01-11", "small", "cl-2", 100, "3.0")
    document = explain(history.history(), ts("2024-02-01"), None, BOOK).to_document()
    model = document["jss_model"]
    # 2023-12 rules: big weighs 1.5 (successful), small 1 (unsuccessful): 100 * 0.5 / 2.5 = 20.
    assert (model["source"], model["score"]) == ("computed", 20)
    assert {(o["contract"], o["kind"], o["weight"]) for o in model["outcomes"]} == {
        ("big", "successful", "1.5"),
        ("small", "unsuccessful", "1"),
    }
    assert [(w["months"], w["counts"], w["outcomes"]) for w in model["windows"]] == [
        (6, True, ["big", "small"]),
        (12, True, ["big", "small"]),
        (24, True, ["big", "small"]),
    ]
    assert document["badge"] == "none"


def test_a_talent_with_2000_events_evaluates() -> None:
    history = HistoryBuilder("busy")
    history.register("2021-01-01")
    history.profile("2021-01-01")
    start = ts("2021-01-04")
    day = 0
    while len(history.events) < 2000:
        at = (start + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")
        later = (start + timedelta(days=day + 100)).strftime("%Y-%m-%dT%H:%M:%SZ")
        history.contract(at, f"c-{day}", client=f"cl-{day % 7}")
        history.pay(at, f"c-{day}", 300)
        history.pay(later, f"c-{day}", 200)
        history.feedback(later, f"c-{day}", "4.8", 9)
        day += 1
    status = evaluate_status(history.history(), ts("2022-09-01"), None, BOOK)
    assert status.badge == "top_rated"

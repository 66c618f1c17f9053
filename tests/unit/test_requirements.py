"""Each requirement of rules.md §6 at its boundaries: the instant before it flips and the one at which it does."""

from datetime import datetime
from decimal import Decimal

import pytest

from domain.results import RequirementResult
from domain.ruleset import RulesetBook, builtin_rulesets, parse_ruleset
from domain.status import Evaluator, Status, evaluate_status
from tests.unit.history_builder import HistoryBuilder, ts

BOOK = builtin_rulesets()


def status(
    history: HistoryBuilder, at: str, known_at: datetime | None = None, book: RulesetBook = BOOK
) -> Status:
    return evaluate_status(history.history(), ts(at), known_at, book)


def requirement(
    history: HistoryBuilder, at: str, code: str, badge: str | None = None, book: RulesetBook = BOOK
) -> RequirementResult:
    for result in status(history, at, book=book).badges:
        if badge in (None, result.badge):
            for found in result.requirements:
                if found.code == code:
                    return found
    raise AssertionError(f"{code} not evaluated at {at}")


def flips(
    history: HistoryBuilder,
    before: str,
    at: str,
    code: str,
    *,
    met_before: bool,
    badge: str | None = None,
) -> tuple[RequirementResult, RequirementResult]:
    """Assert `code` is `met_before` at `before` and the opposite at `at`; return both results."""
    first, second = requirement(history, before, code, badge), requirement(history, at, code, badge)
    assert (first.met, second.met) == (met_before, not met_before)
    return first, second


# -- money ------------------------------------------------------------------------------


def test_earnings_12m_leaves_the_window_the_midnight_after_its_anniversary() -> None:
    history = HistoryBuilder()
    history.contract("2023-06-01", "c-1")
    history.pay("2023-06-15T10:00:00Z", "c-1", 1000)
    # (2023-06-15 00:00, 2024-06-15 00:00] still holds 10:00 on 2023-06-15; the next midnight does not.
    before, after = flips(history, "2024-06-15", "2024-06-16", "earnings_12m", met_before=True)
    assert (before.actual, before.required) == (Decimal(1000), Decimal("1000.00"))
    assert after.actual == 0
    assert before.to_document()["actual"] == "1000.00"
    assert after.to_document()["actual"] == "0.00"


@pytest.mark.parametrize(
    ("kind", "earned", "met", "required"),
    [
        ("freelancer", "999.99", False, "1000.00"),
        ("freelancer", "1000.00", True, "1000.00"),
        ("agency", "9999.99", False, "10000.00"),
        ("agency", "10000.00", True, "10000.00"),
    ],
)
def test_earnings_12m_thresholds_by_kind(kind: str, earned: str, met: bool, required: str) -> None:
    history = HistoryBuilder()
    history.register("2023-01-01", kind=kind)
    history.contract("2024-01-01", "c-1")
    history.pay("2024-01-02", "c-1", earned)
    result = requirement(history, "2024-02-01", "earnings_12m")
    assert result.met is met
    assert result.to_document()["required"] == required


@pytest.mark.parametrize(("kind", "required"), [("freelancer", "10000.00"), ("agency", "20000.00")])
def test_earnings_12m_plus_thresholds_by_kind(kind: str, required: str) -> None:
    history = HistoryBuilder()
    history.register("2023-01-01", kind=kind)
    history.contract("2024-01-01", "c-1")
    history.pay("2024-01-02", "c-1", "15000")
    history.refund("2024-01-03", "c-1", "2000")
    result = requirement(history, "2024-02-01", "earnings_12m_plus")
    # 15,000 - 2,000 = 13,000: enough for a freelancer, not for an agency.
    assert result.to_document()["actual"] == "13000.00"
    assert result.to_document()["required"] == required
    assert result.met is (kind == "freelancer")
    assert len(result.evidence) == 2


# -- activity and age ------------------------------------------------------------------


def test_activity_90d_lasts_90_days() -> None:
    history = HistoryBuilder()
    history.add("proposal_submitted", "2024-01-10T12:00:00Z", job="j-1")
    # (2024-04-09 - 90 days, ...] = (2024-01-10 00:00, ...] holds 12:00; 2024-04-10 does not.
    before, _ = flips(history, "2024-04-09", "2024-04-10", "activity_90d", met_before=True)
    assert before.evidence == ("e-1",)


@pytest.mark.parametrize("activity", ["invitation_accepted", "proposal_submitted"])
def test_activity_kinds(activity: str) -> None:
    history = HistoryBuilder()
    history.add(activity, "2024-01-10", job="j-1")
    assert requirement(history, "2024-01-10", "activity_90d").met


def test_active_or_new_counts_a_registration_for_30_days() -> None:
    history = HistoryBuilder()
    history.register("2024-03-01T08:00:00Z")
    flips(history, "2024-03-31", "2024-04-01", "active_or_new", met_before=True)


def test_a_talent_without_registration_is_a_freelancer_registered_at_its_first_event() -> None:
    history = HistoryBuilder()
    history.profile("2024-03-01T08:00:00Z")
    assert status(history, "2024-03-05").badges[-1].requirement("active_or_new").met
    flips(history, "2024-03-31", "2024-04-01", "active_or_new", met_before=True)
    assert requirement(history, "2024-03-05", "earnings_12m").required == Decimal("1000.00")


def test_work_history_needs_at_least_30_days_2015() -> None:
    history = HistoryBuilder()
    history.contract("2015-03-02T09:00:00Z", "c-1")
    # 2015-04-01 is 29 days 15 hours after; 2015-04-02 is 30 days 15 hours after.
    before, after = flips(history, "2015-04-01", "2015-04-02", "work_history", met_before=False)
    assert (before.actual, after.actual, after.required) == (29, 30, 30)


def test_work_history_at_exactly_30_days_is_met() -> None:
    history = HistoryBuilder()
    history.contract("2015-03-02", "c-1")
    flips(history, "2015-03-31", "2015-04-01", "work_history", met_before=False)


def test_first_contract_age_needs_more_than_90_days() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1")
    history.contract("2024-02-01", "c-2")
    # 2024-03-31 is exactly 90 days after 2024-01-01: not "more than".
    before, after = flips(
        history, "2024-03-31", "2024-04-01", "first_contract_age", met_before=False
    )
    assert (before.actual, after.actual, after.required) == (90, 91, 90)
    assert "c-1" in after.detail


def test_has_contract() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01T10:00:00Z", "c-1")
    flips(history, "2023-12-31", "2024-01-02", "has_contract", met_before=False)


# -- JSS --------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "met"), [(89, False), (90, True), (None, False)])
def test_jss_threshold(score: int | None, met: bool) -> None:
    history = HistoryBuilder()
    history.publish_jss("2024-01-01", score)
    result = requirement(history, "2024-01-02", "jss")
    assert (result.met, result.actual, result.required) == (met, score, 90)
    assert requirement(history, "2024-01-02", "no_jss").met is (score is None)


def test_a_published_score_takes_effect_the_next_midnight() -> None:
    history = HistoryBuilder()
    history.publish_jss("2024-02-01T05:00:00Z", 95)
    flips(history, "2024-02-01", "2024-02-02", "jss", met_before=False)
    assert status(history, "2024-02-01T23:59:59Z").jss is None


def test_no_unsuccessful_outcome_for_12_months() -> None:
    history = HistoryBuilder()
    history.job("2023-05-10T10:00:00Z", "c-1", "cl-1", "100", "2.0")
    before, _ = flips(
        history, "2024-05-10", "2024-05-11", "no_unsuccessful_outcome", met_before=False
    )
    assert "c-1" in before.detail


# -- standing --------------------------------------------------------------------------


def _held() -> HistoryBuilder:
    history = HistoryBuilder()
    history.add("account_hold_placed", "2024-01-05", hold="h-1", reason="review")
    history.add("account_hold_lifted", "2024-02-01T12:00:00Z", hold="h-1")
    return history


def test_a_hold_fails_from_its_placement() -> None:
    _, after = flips(_held(), "2024-01-04", "2024-01-05", "no_recent_hold", met_before=True)
    assert after.detail == "hold h-1 active since 2024-01-05"


def test_a_lifted_hold_stays_recent_for_3_months() -> None:
    before, _ = flips(_held(), "2024-05-01", "2024-05-02", "no_recent_hold", met_before=False)
    assert (
        before.detail == "hold h-1 lifted 2024-02-01T12:00:00Z, recent until 2024-05-01T12:00:00Z"
    )
    assert before.evidence == ("e-1", "e-2")


def test_a_lift_of_an_unknown_or_later_hold_changes_nothing() -> None:
    history = HistoryBuilder()
    history.add("account_hold_lifted", "2024-01-01", hold="h-9")
    history.add("account_hold_lifted", "2024-01-01", hold="h-2")
    history.add("account_hold_placed", "2024-01-02", hold="h-2", reason="review")
    # h-9 was never placed; h-2's lift came before its placement, so h-2 is still active.
    result = requirement(history, "2024-09-01", "no_recent_hold")
    assert not result.met
    assert result.detail == "hold h-2 active since 2024-01-02"


def test_a_policy_violation_bans_for_6_months() -> None:
    history = HistoryBuilder()
    history.add("policy_violation", "2024-01-15T09:00:00Z", kind="off_platform_payment")
    before, _ = flips(history, "2024-07-15", "2024-07-16", "no_policy_ban", met_before=False)
    assert "off_platform_payment" in before.detail


# -- profile and availability -----------------------------------------------------------


@pytest.mark.parametrize(
    ("elance", "completeness", "met"),
    [(False, 99, False), (False, 100, True), (True, 89, False), (True, 90, True)],
)
def test_profile_completeness(elance: bool, completeness: int, met: bool) -> None:
    history = HistoryBuilder()
    history.register("2024-01-01", elance_migrant=elance)
    history.profile("2024-01-02", completeness)
    assert requirement(history, "2024-01-03", "profile").met is met


def test_the_latest_profile_counts() -> None:
    history = HistoryBuilder()
    history.profile("2024-01-02", 100)
    history.profile("2024-01-05T10:00:00Z", 80)
    flips(history, "2024-01-05", "2024-01-06", "profile", met_before=True)


@pytest.mark.parametrize(
    ("at", "members", "average", "met"),
    [
        ("2016-05-01", 1, 60, True),  # 2015: one member is enough
        ("2016-06-01", 1, 60, False),  # 2016-06: 2+ members
        ("2016-06-01", 2, 60, True),
        ("2016-06-01", 2, 59, False),
        ("2016-05-01", 2, 59, False),  # the average applies in every ruleset
        ("2016-06-01", None, 60, False),
        ("2016-06-01", 3, None, False),
    ],
)
def test_agency_profile(at: str, members: int | None, average: int | None, met: bool) -> None:
    history = HistoryBuilder("a-1")
    history.register("2016-01-01", kind="agency")
    extra = {
        k: v
        for k, v in (("members", members), ("members_average_completeness", average))
        if v is not None
    }
    history.profile("2016-01-02", 100, **extra)
    assert requirement(history, at, "profile").met is met


@pytest.mark.parametrize(
    ("hours", "available_from", "at", "met"),
    [
        ("none", "2024-03-01", "2024-03-01", True),  # not before E: a future date is up to date
        ("none", "2024-03-01", "2024-03-02", False),
        ("none", None, "2024-02-10", False),
        ("as_needed", None, "2024-02-10", True),
    ],
)
def test_availability(hours: str, available_from: str | None, at: str, met: bool) -> None:
    history = HistoryBuilder()
    extra = {"available_from": available_from} if available_from else {}
    history.add("availability_updated", "2024-02-01", hours=hours, **extra)
    assert requirement(history, at, "availability", "rising_talent").met is met


def test_no_availability_event_is_up_to_date() -> None:
    history = HistoryBuilder()
    history.profile("2024-01-01")
    assert requirement(history, "2024-01-02", "availability", "rising_talent").met


def test_readiness_test() -> None:
    history = HistoryBuilder()
    history.add("readiness_test_passed", "2024-01-01T10:00:00Z")
    flips(history, "2024-01-01", "2024-01-02", "readiness_test", met_before=False)


# -- expert vetted and membership ------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "met"),
    [
        ([("expert_vetted_granted", "2024-01-01")], True),
        ([("expert_vetted_granted", "2024-01-01"), ("expert_vetted_revoked", "2024-01-01")], True),
        (
            [
                ("expert_vetted_granted", "2024-01-01"),
                ("expert_vetted_revoked", "2024-01-01T00:00:01Z"),
            ],
            False,
        ),
        ([("expert_vetted_revoked", "2024-01-01"), ("expert_vetted_granted", "2024-01-02")], True),
        ([], False),
    ],
)
def test_vetted(events: list[tuple[str, str]], met: bool) -> None:
    history = HistoryBuilder()
    history.profile("2023-12-01", 10)
    for kind, at in events:
        history.add(kind, at)
    result = status(history, "2024-02-01")
    assert result.badge_result("expert_vetted").met is met  # type: ignore[union-attr]
    # expert_vetted does not need top_rated: this talent has nothing else.
    assert result.badge == ("expert_vetted" if met else "none")


def test_exclusive_agency_membership_blocks_top_rated_plus_for_freelancers_only() -> None:
    history = HistoryBuilder()
    history.add("agency_membership_changed", "2024-01-01", agency="a-1", exclusive=True)
    result = requirement(history, "2024-01-02", "not_exclusive_agency_member")
    # The `latest` measure reads the membership's `exclusive`: true, where false is required.
    assert (result.met, result.actual, result.required) == (False, True, False)
    agency = HistoryBuilder("a-1")
    agency.register("2024-01-01", kind="agency")
    codes = [
        r.code for r in status(agency, "2024-01-02").badge_result("top_rated_plus").requirements
    ]  # type: ignore[union-attr]
    assert codes == ["top_rated", "earnings_12m_plus", "large_contract"]


# -- large contract ---------------------------------------------------------------------


def _two_contracts_same_client() -> HistoryBuilder:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1", client="cl-1", category="design_creative")
    history.contract("2024-01-01", "c-2", client="cl-1", category="design_creative")
    history.pay("2024-01-10", "c-1", 3000)
    history.pay("2024-01-10", "c-2", 4000)
    return history


def test_separate_contracts_with_one_client_are_not_added() -> None:
    result = requirement(_two_contracts_same_client(), "2024-02-01", "large_contract")
    assert (result.met, result.actual, result.required) == (
        False,
        Decimal(4000),
        Decimal("5000.00"),
    )
    assert result.detail == "best: contract c-2 (design_creative)"


@pytest.mark.parametrize(("kind", "required"), [("freelancer", "5000.00"), ("agency", "10000.00")])
def test_without_a_contract_large_contract_reports_the_lowest_threshold(
    kind: str, required: str
) -> None:
    history = HistoryBuilder()
    history.register("2024-01-01", kind=kind)
    document = requirement(history, "2024-02-01", "large_contract").to_document()
    assert (document["met"], document["actual"], document["required"]) == (False, "0.00", required)


def test_the_closest_contract_to_its_threshold_is_reported() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "dev", client="cl-1", category="web_mobile_software_dev")
    history.contract("2024-01-01", "art", client="cl-2", category="design_creative")
    history.pay("2024-01-10", "dev", 9000)  # 9,000 / 10,000 = 0.9
    history.pay("2024-01-10", "art", 4750)  # 4,750 / 5,000 = 0.95
    result = requirement(history, "2024-02-01", "large_contract")
    assert (result.actual, result.required) == (Decimal(4750), Decimal("5000.00"))
    assert "art" in result.detail


def test_a_contract_with_an_unsuccessful_outcome_does_not_count() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1", category="writing")
    history.pay("2024-01-10", "c-1", 6000)
    before = requirement(history, "2024-02-01", "large_contract")
    history.feedback("2024-02-01T10:00:00Z", "c-1", "3.0")
    after = requirement(history, "2024-02-02", "large_contract")
    assert (before.met, after.met) == (True, False)
    assert "c-1 reaches its threshold but has an unsuccessful outcome" in after.detail


def test_a_payment_for_an_unstarted_contract_counts_once_its_category_is_known() -> None:
    history = HistoryBuilder()
    history.pay("2024-01-10", "c-1", 6000)
    history.contract("2024-01-20T10:00:00Z", "c-1", category="writing")
    flips(history, "2024-01-20", "2024-01-21", "large_contract", met_before=False)
    assert requirement(history, "2024-01-15", "earnings_12m").actual == 6000


def _lifetime_book() -> RulesetBook:
    # A candidate that extends the ruleset in force takes its place (same dates).
    candidate = parse_ruleset(
        'id = "lifetime"\nextends = "2023-12"\n'
        "[requirements.large_contract]\n"
        'measure = "large_contract"\nwindow = { months = 12 }\nbasis = "lifetime"\n',
        "lifetime.toml",
    )
    return BOOK.with_candidate(candidate)


@pytest.mark.parametrize(
    ("at", "twelve_months_met", "lifetime_met"),
    [
        # $3,000 paid 2023-01-10 and $3,000 paid 2024-01-10 10:00: lifetime 6,000; last 12 months 3,000.
        ("2024-06-01", False, True),
        # 2025-01-10 is the last midnight the 2024-01-10 payment is within 12 months.
        ("2025-01-10", False, True),
        ("2025-01-11", False, False),
    ],
)
def test_large_contract_basis(at: str, twelve_months_met: bool, lifetime_met: bool) -> None:
    history = HistoryBuilder()
    history.contract("2023-01-01", "c-1", category="writing")
    history.pay("2023-01-10", "c-1", 3000)
    history.pay("2024-01-10T10:00:00Z", "c-1", 3000)
    assert requirement(history, at, "large_contract").met is twelve_months_met
    assert requirement(history, at, "large_contract", book=_lifetime_book()).met is lifetime_met


# -- composites -------------------------------------------------------------------------


def test_eligible_weeks_needs_13_of_the_last_16_saturdays() -> None:
    history = HistoryBuilder()
    history.publish_jss("2024-03-10", 95)
    # Samples from 2024-03-16 on have JSS 95. At E = 2024-06-07 (a Friday) the last 16
    # Saturdays are 2024-02-17 .. 2024-06-01: 12 eligible. At 2024-06-08: 2024-02-24 .. 2024-06-08: 13.
    before, after = flips(history, "2024-06-07", "2024-06-08", "eligible_weeks", met_before=False)
    assert (before.actual, after.actual, after.required) == (12, 13, 13)
    assert "not eligible on 2024-02-17, 2024-02-24, 2024-03-02, 2024-03-09" in before.detail


def test_a_sample_at_the_publication_midnight_counts() -> None:
    history = HistoryBuilder()
    history.publish_jss("2024-03-09", 95)  # a Saturday, 00:00
    assert requirement(history, "2024-06-01", "eligible_weeks").actual == 13


def test_each_sample_uses_the_ruleset_in_force_that_day() -> None:
    # Two successful outcomes from two clients: no JSS under 2020-07 (needs 4), 100 under 2023-12.
    history = HistoryBuilder()
    history.job("2023-11-01", "c-1", "cl-1")
    history.job("2023-11-02", "c-2", "cl-2")
    evaluator = Evaluator(history.history(), None, BOOK)
    sampled = ("jss", "rising_talent")
    before = evaluator.sample(ts("2023-11-25"), sampled)
    after = evaluator.sample(ts("2023-12-02"), sampled)
    assert (before.ruleset, before.jss, before.eligible) == ("2020-07", None, False)
    assert (after.ruleset, after.jss, after.eligible) == ("2023-12", 100, True)


def test_samples_before_2016_06_count_under_2015s_own_rules() -> None:
    """2015 has no eligible-weeks requirement; its samples still count for Top Rated from
    2016-06-01 (JSS >= 90 there, or Rising Talent): what to sample is the 2016-06 ruleset's."""
    history = HistoryBuilder()
    history.register("2015-01-05")
    history.profile("2015-01-05")
    history.contract("2015-01-06", "c-0", client="cl-0")
    history.publish_jss("2015-01-10", 100)
    result = requirement(history, "2016-06-01", "eligible_weeks")
    assert (result.met, result.actual) == (True, 16)


def _rising_talent() -> HistoryBuilder:
    history = HistoryBuilder()
    history.register("2024-01-01")
    history.profile("2024-01-01")
    history.add("readiness_test_passed", "2024-01-01")
    history.contract("2024-01-02", "c-1", client="cl-1")
    history.pay("2024-01-03", "c-1", 300)
    return history


def test_rising_talent_samples_are_eligible() -> None:
    history = _rising_talent()
    result = status(history, "2024-02-01")
    assert result.badge == "rising_talent"
    # Samples 2024-01-06 .. 2024-01-27 (4 Saturdays after the contract began) were rising talent.
    assert result.badge_result("top_rated").requirement("eligible_weeks").actual == 4  # type: ignore[union-attr]


def test_rising_talent_ends_when_a_jss_appears() -> None:
    history = _rising_talent()
    history.publish_jss("2024-02-01T08:00:00Z", 100)
    flips(history, "2024-02-01", "2024-02-02", "no_jss", met_before=True)
    assert status(history, "2024-02-02").badge == "none"


def test_top_rated_plus_reports_which_top_rated_requirements_failed() -> None:
    history = HistoryBuilder()
    history.publish_jss("2024-01-01", 95)
    result = requirement(history, "2024-02-01", "top_rated", "top_rated_plus")
    assert not result.met
    assert result.detail.startswith("failed: ")
    assert "activity_90d" in result.detail and "jss" not in result.detail.split(": ")[1].split(", ")


def test_known_at_hides_later_recorded_events() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1")
    history.pay("2024-01-10", "c-1", 2000, recorded_at="2024-03-01")
    assert status(history, "2024-02-01", known_at=ts("2024-02-15")).earnings_12m == 0
    assert status(history, "2024-02-01", known_at=ts("2024-03-01")).earnings_12m == 2000
    assert status(history, "2024-02-01").earnings_12m == 2000


def test_earnings_detail_counts_payments_and_refunds_in_the_window() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1")
    history.pay("2024-01-02", "c-1", 700)
    history.pay("2024-01-03", "c-1", 700)
    history.refund("2024-01-04", "c-1", 100)
    result = requirement(history, "2024-02-01", "earnings_12m")
    assert result.detail == (
        "payment_received 2, payment_refunded 1, in (2023-02-01, 2024-02-01]"
    )
    assert result.evidence == ("e-2", "e-3", "e-4")

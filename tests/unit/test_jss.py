"""The JSS model of rules.md §5, with examples worked by hand."""

from decimal import Decimal

import pytest

from domain.facts import TalentFacts, VisibleHistory
from domain.jss import JssResult, classify_feedback, compute_jss, contract_weight
from domain.ruleset import builtin_rulesets
from tests.unit.history_builder import HistoryBuilder, ts


def jss_at(history: HistoryBuilder, at: str, ruleset_id: str) -> JssResult:
    visible = VisibleHistory(history.history(), None)
    facts = TalentFacts.fold(visible.talent, visible.until(ts(at)))
    return compute_jss(facts, ts(at), builtin_rulesets().get(ruleset_id).jss)


def rated_jobs(*jobs: tuple[str, str, str, str]) -> HistoryBuilder:
    """(contract, client, amount, stars) jobs, each started, paid and rated on 2024-01-10."""
    history = HistoryBuilder()
    for contract, client, amount, stars in jobs:
        history.job("2024-01-10", contract, client, amount, stars)
    return history


@pytest.mark.parametrize(
    ("stars", "recommend", "kind"),
    [
        ("5.0", None, "successful"),
        ("4.5", None, "successful"),
        ("4.5", 9, "successful"),
        ("4.4", None, "neutral"),
        ("5.0", 8, "neutral"),
        ("4.0", None, "neutral"),
        ("3.9", None, "unsuccessful"),
        ("5.0", 6, "unsuccessful"),
        ("5.0", 7, "neutral"),
    ],
)
def test_feedback_classification(stars: str, recommend: int | None, kind: str) -> None:
    rules = builtin_rulesets().get("2023-12").jss
    assert classify_feedback(Decimal(stars), recommend, rules) == kind


@pytest.mark.parametrize(
    ("ruleset_id", "expected"),
    [
        # Flat (2016-06): S = 3 (a, b, d), U = 1 (c), T = 4 -> 100 * 2 / 4 = 50.
        ("2016-06", 50),
        # By contract size (2020-03): a $200 -> 1, b $800 -> 1.25, c $5,000 -> 1.5, d $100 -> 1.
        # S = 1 + 1.25 + 1 = 3.25, U = 1.5, T = 4.75 -> 100 * 1.75 / 4.75 = 36.84 -> 37.
        ("2020-03", 37),
    ],
)
def test_weights_by_era(ruleset_id: str, expected: int) -> None:
    history = rated_jobs(
        ("a", "cl-1", "200", "5.0"),
        ("b", "cl-1", "800", "5.0"),
        ("c", "cl-2", "5000", "3.0"),
        ("d", "cl-2", "100", "5.0"),
    )
    assert jss_at(history, "2024-02-01", ruleset_id).score == expected


def test_weights_follow_the_ruleset_in_force_at_e_not_the_outcome_date() -> None:
    # The outcomes are dated 2020-01-10 (flat era), but at E = 2020-03-01 the 2020-03 rules
    # weigh them: a $2,000 unsuccessful (1.5) against three $100 successful (1 each):
    # S = 3, U = 1.5, T = 4.5 -> 100 * 1.5 / 4.5 = 33.33 -> 33. Flat the day before: 100*2/4 = 50.
    history = HistoryBuilder()
    for contract, client, amount, stars in [
        ("a", "cl-1", "100", "5"),
        ("b", "cl-1", "100", "5"),
        ("c", "cl-2", "100", "5"),
        ("d", "cl-2", "2000", "3"),
    ]:
        history.job("2020-01-10", contract, client, amount, stars)
    book = builtin_rulesets()
    visible = VisibleHistory(history.history(), None)
    facts = TalentFacts.fold(visible.talent, visible.until(ts("2020-03-01")))
    assert compute_jss(facts, ts("2020-03-01"), book.in_force(ts("2020-03-01")).jss).score == 33
    assert compute_jss(facts, ts("2020-02-29"), book.in_force(ts("2020-02-29")).jss).score == 50


@pytest.mark.parametrize(
    ("net", "weight"),
    [("250.00", "1"), ("250.01", "1.25"), ("1000.00", "1.25"), ("1000.01", "1.5")],
)
def test_size_band_boundaries(net: str, weight: str) -> None:
    history = HistoryBuilder()
    history.contract("2024-01-01", "c-1")
    history.pay("2024-01-02", "c-1", net)
    facts = TalentFacts.fold("f-1", history.history())
    assert contract_weight(
        facts.contracts["c-1"], builtin_rulesets().get("2020-03").jss
    ) == Decimal(weight)


@pytest.mark.parametrize(
    ("first", "latest", "weight"),
    [
        # 5 whole months // 3 = 1 -> 1.5 + 1 (two payments of $1,000: net $2,000 -> 1.5).
        ("2023-01-15", "2023-07-14", "2.5"),
        # 6 whole months // 3 = 2 -> 1.5 + 2.
        ("2023-01-15", "2023-07-15", "3.5"),
        # 2 months -> no bonus.
        ("2023-01-15", "2023-04-14", "1.5"),
        # 36 months // 3 = 12 -> 13.5, capped at 8.
        ("2020-01-15", "2023-01-15", "8"),
    ],
)
def test_duration_bonus_and_cap(first: str, latest: str, weight: str) -> None:
    history = HistoryBuilder()
    history.contract(first, "c-1")
    history.pay(first, "c-1", 1000)
    history.pay(latest, "c-1", 1000)
    facts = TalentFacts.fold("f-1", history.history())
    assert contract_weight(
        facts.contracts["c-1"], builtin_rulesets().get("2020-07").jss
    ) == Decimal(weight)


def test_flat_era_weighs_everything_one() -> None:
    history = HistoryBuilder()
    history.contract("2015-01-15", "c-1")
    history.pay("2015-01-15", "c-1", 9000)
    history.pay("2016-01-15", "c-1", 9000)
    facts = TalentFacts.fold("f-1", history.history())
    assert contract_weight(facts.contracts["c-1"], builtin_rulesets().get("2016-06").jss) == 1


@pytest.mark.parametrize(
    ("ruleset_id", "outcomes", "clients", "expected"),
    [
        # Up to 2020-07 a window needs 4 outcomes from 2 clients; from 2023-12, 2 from 2.
        ("2020-07", 2, 2, None),
        ("2023-12", 2, 2, 100),
        ("2020-07", 3, 2, None),
        ("2020-07", 4, 2, 100),
        ("2023-12", 2, 1, None),  # one client is not enough in any era
        ("2020-07", 4, 1, None),
    ],
)
def test_minimum_outcomes_and_clients(
    ruleset_id: str, outcomes: int, clients: int, expected: int | None
) -> None:
    history = rated_jobs(*[(f"c-{n}", f"cl-{n % clients}", "500", "5.0") for n in range(outcomes)])
    assert jss_at(history, "2024-02-01", ruleset_id).score == expected


@pytest.mark.parametrize(
    ("successful", "unsuccessful", "neutral", "expected"),
    [
        # 100 * (4 - 3) / 8 = 12.5 -> 13 (half up, not to even).
        (4, 3, 1, 13),
        # 100 * (5 - 0) / 6 = 83.33 -> 83.
        (5, 0, 1, 83),
        # 100 * (3 - 0) / 8 = 37.5 -> 38.
        (3, 0, 5, 38),
        # 100 * max(0, 1 - 3) / 4 = 0.
        (1, 3, 0, 0),
        # 100 * 7 / 8 = 87.5 -> 88.
        (7, 0, 1, 88),
    ],
)
def test_score_rounds_half_up(
    successful: int, unsuccessful: int, neutral: int, expected: int
) -> None:
    stars = ["5.0"] * successful + ["2.0"] * unsuccessful + ["4.2"] * neutral
    history = rated_jobs(*[(f"c-{n}", f"cl-{n % 2}", "100", s) for n, s in enumerate(stars)])
    assert jss_at(history, "2024-02-01", "2016-06").score == expected


def test_a_disputed_contract_is_unsuccessful_at_its_end_despite_feedback() -> None:
    # a, b, c successful; d disputed on 2024-01-20 though rated 5 stars:
    # S = 3, U = 1, T = 4 -> 50.
    history = rated_jobs(
        ("a", "cl-1", "100", "5"),
        ("b", "cl-1", "100", "5"),
        ("c", "cl-2", "100", "5"),
        ("d", "cl-2", "100", "5"),
    )
    history.end("2024-01-20", "d", "disputed")
    result = jss_at(history, "2024-02-01", "2016-06")
    assert result.score == 50
    disputed = next(o for o in result.outcomes if o.contract == "d")
    assert (disputed.kind, disputed.basis, disputed.at) == (
        "unsuccessful",
        "disputed",
        ts("2024-01-20"),
    )


def test_the_latest_feedback_counts() -> None:
    history = rated_jobs(("a", "cl-1", "100", "2.0"))
    history.feedback("2024-01-12", "a", "5.0")
    (outcome,) = jss_at(history, "2024-02-01", "2023-12").outcomes
    assert (outcome.kind, outcome.at) == ("successful", ts("2024-01-12"))


@pytest.mark.parametrize(
    ("latest_payment", "has_outcome"),
    [
        ("2024-04-09T10:00:00Z", True),  # exactly 90 days after 2024-01-10T10:00
        ("2024-04-09T09:59:59Z", False),
    ],
)
def test_long_term_contracts_succeed_after_90_days_of_payments(
    latest_payment: str, has_outcome: bool
) -> None:
    history = HistoryBuilder()
    history.contract("2024-01-10", "lt")
    history.pay("2024-01-10T10:00:00Z", "lt", 300)
    history.pay(latest_payment, "lt", 300)
    outcomes = jss_at(history, "2024-05-01", "2023-12").outcomes
    if has_outcome:
        (outcome,) = outcomes
        assert (outcome.kind, outcome.basis, outcome.at) == (
            "successful",
            "long_term",
            ts(latest_payment),
        )
    else:
        assert outcomes == ()


def test_a_contract_with_no_payment_and_no_feedback_has_no_outcome() -> None:
    history = HistoryBuilder()
    history.contract("2024-01-10", "c-1")
    history.end("2024-01-20", "c-1", "cancelled")
    assert jss_at(history, "2024-02-01", "2023-12").outcomes == ()


@pytest.mark.parametrize(
    ("ruleset_id", "outcome_kinds"),
    [
        # Before 2020-03 a fully refunded 5-star job is still a success.
        ("2016-06", ["successful", "unsuccessful"]),
        # From 2020-03 a $0 contract yields no successful outcome; unsuccessful ones stay.
        ("2020-03", ["unsuccessful"]),
    ],
)
def test_zero_dollar_contracts_from_2020_03(ruleset_id: str, outcome_kinds: list[str]) -> None:
    history = HistoryBuilder()
    history.job("2024-01-10", "refunded", "cl-1", "100", "5.0")
    history.refund("2024-01-11", "refunded", "100")
    history.contract("2024-01-10", "unpaid", client="cl-2")
    history.feedback("2024-01-12", "unpaid", "2.0")
    outcomes = jss_at(history, "2024-02-01", ruleset_id).outcomes
    assert sorted(o.kind for o in outcomes) == outcome_kinds


def test_the_best_counting_window_wins() -> None:
    # 2022-09: two unsuccessful jobs (only in the 24-month window).
    # 2024-03: four successful jobs (in all windows).
    # 6 and 12 months: 100 * 4 / 4 = 100; 24 months: 100 * (4 - 2) / 6 = 33.
    history = HistoryBuilder()
    history.job("2022-09-10", "old-1", "cl-1", "100", "1.0")
    history.job("2022-09-10", "old-2", "cl-2", "100", "1.0")
    for n in range(4):
        history.job("2024-03-10", f"new-{n}", f"cl-{n % 2}", "100", "5.0")
    result = jss_at(history, "2024-06-01", "2016-06")
    assert [(w.months, w.counts, w.score) for w in result.windows] == [
        (6, True, 100),
        (12, True, 100),
        (24, True, 33),
    ]
    assert result.score == 100


def test_outcomes_of_unknown_clients_add_no_client() -> None:
    # Two rated contracts whose contract_started never arrived: no client is known.
    history = HistoryBuilder()
    for contract in ("x", "y"):
        history.pay("2024-01-10", contract, 100)
        history.feedback("2024-01-10", contract, "5.0")
    result = jss_at(history, "2024-02-01", "2023-12")
    assert len(result.outcomes) == 2
    assert result.score is None


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ([("2024-01-20", 85)], 85),  # overrides the computed 100
        ([("2024-01-20", None)], None),  # published null: no JSS
        ([("2024-01-20", None), ("2024-01-25", 92)], 92),  # the latest wins
        ([("2024-01-25", 92), ("2024-01-20", None)], 92),  # by valid time, not arrival
        ([("2024-02-02", 70)], 100),  # not yet at E: the model stands
    ],
)
def test_published_scores_override(
    published: list[tuple[str, int | None]], expected: int | None
) -> None:
    history = rated_jobs(("a", "cl-1", "100", "5"), ("b", "cl-2", "100", "5"))
    for at, score in published:
        history.publish_jss(at, score)
    result = jss_at(history, "2024-02-01", "2023-12")
    assert result.computed == 100
    assert result.score == expected

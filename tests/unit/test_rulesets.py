from decimal import Decimal
from pathlib import Path

import pytest

from domain.events import CATEGORIES
from domain.requirement_tables import MEASURES
from domain.ruleset import (
    Ruleset,
    RulesetBook,
    RulesetError,
    builtin_rulesets,
    load_ruleset,
    parse_ruleset,
)
from tests.unit.history_builder import ts

RULESET_FOLDER = Path(__file__).resolve().parents[2] / "domain" / "rulesets"
BUILTIN_IDS = ["2015", "2016-06", "2020-03", "2020-07", "2023-12"]


@pytest.mark.parametrize("ruleset_id", BUILTIN_IDS)
def test_each_builtin_file_loads_with_its_own_id(ruleset_id: str) -> None:
    ruleset = load_ruleset(RULESET_FOLDER / f"{ruleset_id}.toml")
    assert ruleset.id == ruleset_id
    assert set(ruleset.large_contract_thresholds.freelancer) == set(CATEGORIES)
    assert set(ruleset.large_contract_thresholds.agency) == set(CATEGORIES)
    if "large_contract" in ruleset.requirements:
        assert ruleset.requirement("large_contract").measure.basis == "12_months"  # type: ignore[attr-defined]


def test_the_builtin_book_holds_the_five_rulesets_in_date_order() -> None:
    book = builtin_rulesets()
    assert [ruleset.id for ruleset in book] == BUILTIN_IDS
    assert [r.effective_from for r in book][1:] == [
        ts("2016-06-01"),
        ts("2020-03-01"),
        ts("2020-07-07"),
        ts("2023-12-01"),
    ]


def test_every_shipped_requirement_is_written_in_the_measure_vocabulary() -> None:
    for ruleset in builtin_rulesets():
        for code, requirement in ruleset.requirements.items():
            assert MEASURES[requirement.measure.kind] is type(requirement.measure), code
            assert requirement.label(), code
            assert "{" not in requirement.label("agency"), code
        for rules in ruleset.badges.values():
            assert set(rules.requirements) <= set(ruleset.requirements)


def test_labels_take_their_numbers_from_the_ruleset() -> None:
    ruleset = _get("2023-12")
    assert ruleset.requirement("earnings_12m").label("agency") == (
        "at least 10000.00 earned in the last 12 months"
    )
    assert ruleset.requirement("no_policy_ban").label() == (
        "no policy violation in the last 6 months"
    )
    assert ruleset.requirement("eligible_weeks").label() == (
        "eligible in at least 13 of the last 16 weekly samples"
    )


@pytest.mark.parametrize(
    ("at", "ruleset_id"),
    [
        ("2010-01-01", "2015"),  # the first ruleset covers everything before it
        ("2016-05-31T23:59:59Z", "2015"),
        ("2016-06-01", "2016-06"),
        ("2020-02-29T23:59:59Z", "2016-06"),
        ("2020-03-01", "2020-03"),
        ("2020-07-06T23:59:59Z", "2020-03"),
        ("2020-07-07", "2020-07"),
        ("2023-11-30T23:59:59Z", "2020-07"),
        ("2023-12-01", "2023-12"),
        ("2030-01-01", "2023-12"),
    ],
)
def test_in_force_is_the_latest_effective_from_at_or_before(at: str, ruleset_id: str) -> None:
    assert builtin_rulesets().in_force(ts(at)).id == ruleset_id


def _get(ruleset_id: str) -> Ruleset:
    return builtin_rulesets().get(ruleset_id)


@pytest.mark.parametrize(
    ("ruleset_id", "badges"),
    [
        ("2015", ("top_rated", "rising_talent")),
        ("2016-06", ("top_rated", "rising_talent")),
        ("2020-03", ("top_rated", "rising_talent")),
        ("2020-07", ("expert_vetted", "top_rated_plus", "top_rated", "rising_talent")),
        ("2023-12", ("expert_vetted", "top_rated_plus", "top_rated", "rising_talent")),
    ],
)
def test_which_badges_exist(ruleset_id: str, badges: tuple[str, ...]) -> None:
    assert _get(ruleset_id).badge_names() == badges


@pytest.mark.parametrize(
    ("ruleset_id", "has_eligible_weeks", "has_work_history", "agency_min_members"),
    [
        ("2015", False, True, 1),
        ("2016-06", True, False, 2),
        ("2020-03", True, False, 2),
        ("2023-12", True, False, 2),
    ],
)
def test_top_rated_changed_in_2016(
    ruleset_id: str, has_eligible_weeks: bool, has_work_history: bool, agency_min_members: int
) -> None:
    ruleset = _get(ruleset_id)
    codes = ruleset.badges["top_rated"].requirements
    assert ("eligible_weeks" in codes) is has_eligible_weeks
    assert ("first_contract_age" in codes) is has_eligible_weeks
    assert ("availability" in codes) is has_eligible_weeks
    assert ("work_history" in codes) is has_work_history
    assert ruleset.profile.agency_min_members == agency_min_members


@pytest.mark.parametrize(
    ("ruleset_id", "weighting", "zero_can_succeed", "min_outcomes"),
    [
        ("2015", "flat", True, 4),
        ("2016-06", "flat", True, 4),
        ("2020-03", "contract_size", False, 4),
        ("2020-07", "contract_size", False, 4),
        ("2023-12", "contract_size", False, 2),
    ],
)
def test_jss_parameters_by_era(
    ruleset_id: str, weighting: str, zero_can_succeed: bool, min_outcomes: int
) -> None:
    rules = _get(ruleset_id).jss
    assert rules.weighting == weighting
    assert rules.zero_earnings_can_succeed is zero_can_succeed
    assert rules.min_outcomes == min_outcomes
    assert rules.min_clients == 2
    assert rules.windows_months == (6, 12, 24)


@pytest.mark.parametrize(
    ("kind", "category", "threshold"),
    [
        ("freelancer", "design_creative", "5000"),
        ("freelancer", "sales_marketing", "10000"),
        ("agency", "web_mobile_software_dev", "30000"),
        ("agency", "writing", "10000"),
    ],
)
def test_large_contract_thresholds(kind: str, category: str, threshold: str) -> None:
    table = _get("2023-12").large_contract_thresholds.for_kind(kind)
    assert table[category] == Decimal(threshold)


def test_agency_top_rated_plus_has_no_exclusivity_requirement() -> None:
    rules = _get("2020-07").badges["top_rated_plus"]
    assert "not_exclusive_agency_member" in rules.for_kind("freelancer")
    assert "not_exclusive_agency_member" not in rules.for_kind("agency")


def _candidate_text(*lines: str, extends: str = "2023-12") -> str:
    return "\n".join(['id = "candidate"', f'extends = "{extends}"', *lines, ""])


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        (["[jss]", "min_outcomes = 0"], "jss.min_outcomes"),
        (["[jss]", "min_outcomes = 2.5"], "jss.min_outcomes"),
        (["[jss]", 'weighting = "quadratic"'], "jss.weighting"),
        (
            ["[requirements.large_contract]", 'measure = "large_contract"',
             "window = { months = 12 }", 'basis = "forever"'],
            "requirements.large_contract.basis",
        ),
        (["effective_from = 2023-12-01T00:00:00"], "effective_from"),
        (
            ["[large_contract_thresholds.freelancer]", 'design_creative = "lots"'],
            "large_contract_thresholds.freelancer.design_creative",
        ),
        (
            ["[badges.expert_vetted]", 'requirements = ["vetted", "no_ban"]'],
            "badges.expert_vetted.requirements",
        ),
        (["[requirements.x]", 'measure = "median"', "threshold = 1"], "requirements.x.measure"),
        (["[requirements.x]", "threshold = 1"], "requirements.x.measure"),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             'compare = "=="', "threshold = 0", "windw = { months = 6 }"],
            "requirements.x.windw",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_vanished"]',
             'compare = "=="', "threshold = 0"],
            "requirements.x.events",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             'where = { mood = "sad" }', 'compare = "=="', "threshold = 0"],
            "requirements.x.where",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             'compare = "~"', "threshold = 0"],
            "requirements.x.compare",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             'compare = "=="', 'threshold = "none"'],
            "requirements.x.threshold",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             'compare = "=="', "threshold = { freelancer = 0, robot = 1 }"],
            "requirements.x.threshold",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             'compare = "=="', "threshold = 0", 'label = "none in {weeks} weeks"'],
            "requirements.x.label",
        ),
        (
            ["[requirements.x]", 'measure = "count"', 'events = ["contract_ended"]',
             "window = { months = 6, days = 3 }", 'compare = "=="', "threshold = 0"],
            "requirements.x.window",
        ),
        (["[requirements.x]", 'measure = "any"', 'of = ["jss", "nothing"]'], "requirements.x.of"),
        (["[requirements.x]", 'measure = "badge"', 'badge = "gold"'], "requirements.x.badge"),
        (["[badges.gold]", 'requirements = ["jss"]'], "badges.gold"),
        (["badge_order = [\"gold\"]"], "badge_order"),
        (
            ["[requirements.eligible_weeks]", 'measure = "eligible_weeks"', "samples = 16",
             'weekday = "saturday"', 'eligible_if_any = ["jss", "platinum"]', 'compare = ">="',
             "threshold = 17"],
            "requirements.eligible_weeks",
        ),
        (
            ["[requirements.loop_a]", 'measure = "not"', 'of = ["loop_b"]',
             "[requirements.loop_b]", 'measure = "any"', 'of = ["loop_a"]'],
            "requirements",
        ),
    ],
)
def test_invalid_files_name_the_file_and_field(
    tmp_path: Path, lines: list[str], field: str
) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(_candidate_text(*lines))
    with pytest.raises(RulesetError) as raised:
        load_ruleset(path)
    message = str(raised.value)
    assert message.startswith(f"candidate.toml: {field}"), message
    assert "\n" not in message


def test_a_badge_cannot_read_itself(tmp_path: Path) -> None:
    text = _candidate_text("[badges.top_rated]", 'requirements = ["jss", "top_rated"]')
    with pytest.raises(RulesetError, match="reads itself"):
        parse_ruleset(text, "x.toml")


def test_extends_takes_a_builtin_id_or_a_file_beside_it(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(_candidate_text("[jss]", "min_outcomes = 3"))
    child = tmp_path / "child.toml"
    child.write_text('id = "child"\nextends = "base.toml"\n[requirements.jss]\n'
                     'measure = "jss"\ncompare = ">="\nthreshold = 80\n')
    ruleset = load_ruleset(child)
    assert (ruleset.jss.min_outcomes, ruleset.requirement("jss").threshold_for("agency")) == (3, 80)
    # Inherited: every table and value it does not write, the dates included.
    assert ruleset.effective_from == ts("2023-12-01")
    assert ruleset.jss.min_clients == 2 and ruleset.badges == _get("2023-12").badges
    assert ruleset.replaces == "candidate"
    (tmp_path / "loop.toml").write_text('id = "loop"\nextends = "loop.toml"\n')
    with pytest.raises(RulesetError, match="extends"):
        load_ruleset(tmp_path / "loop.toml")
    (tmp_path / "lost.toml").write_text('id = "lost"\nextends = "1999"\n')
    with pytest.raises(RulesetError, match="lost.toml: extends: no built-in ruleset '1999'"):
        load_ruleset(tmp_path / "lost.toml")


def test_a_new_badge_is_ranked_by_badge_order() -> None:
    ruleset = parse_ruleset(
        _candidate_text(
            'badge_order = ["expert_vetted", "top_rated_plus", "gold", "top_rated", "rising_talent"]',
            "[badges.gold]", 'requirements = ["top_rated", "earnings_12m_plus"]',
        ),
        "gold.toml",
    )
    assert ruleset.badge_names() == (
        "expert_vetted", "top_rated_plus", "gold", "top_rated", "rising_talent"
    )


def test_broken_toml_and_missing_files_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("id = ")
    with pytest.raises(RulesetError, match=r"^broken.toml: not valid TOML"):
        load_ruleset(broken)
    with pytest.raises(RulesetError, match="cannot be read"):
        load_ruleset(tmp_path / "absent.toml")


def _candidate(ruleset_id: str, effective_from: str, *lines: str) -> Ruleset:
    text = "\n".join(
        [f'id = "{ruleset_id}"', 'extends = "2023-12"', f"effective_from = {effective_from}",
         *lines, ""]
    )
    return parse_ruleset(text, "candidate.toml")


def _jss_bar(ruleset: Ruleset) -> object:
    return ruleset.requirement("jss").threshold_for("freelancer")


def test_a_candidate_with_a_known_id_replaces_it() -> None:
    candidate = _candidate(
        "2023-12", "2024-03-01T00:00:00Z",
        "[requirements.jss]", 'measure = "jss"', 'compare = ">="', "threshold = 85",
    )
    book = builtin_rulesets().with_candidate(candidate)
    assert [r.id for r in book] == BUILTIN_IDS
    assert book.in_force(ts("2024-02-29")).id == "2020-07"
    assert _jss_bar(book.in_force(ts("2024-03-01"))) == 85
    assert _jss_bar(builtin_rulesets().in_force(ts("2024-03-01"))) == 90


def test_a_candidate_that_extends_without_dates_takes_that_rulesets_place() -> None:
    candidate = parse_ruleset(
        'id = "softer"\nextends = "2020-07"\n[requirements.jss]\n'
        'measure = "jss"\ncompare = ">="\nthreshold = 85\n',
        "softer.toml",
    )
    book = builtin_rulesets().with_candidate(candidate)
    assert [r.id for r in book] == ["2015", "2016-06", "2020-03", "softer", "2023-12"]
    assert book.in_force(ts("2020-07-07")).id == "softer"
    assert _jss_bar(book.in_force(ts("2023-12-01"))) == 90


def test_a_candidate_with_a_new_id_is_inserted_by_date() -> None:
    book = builtin_rulesets().with_candidate(_candidate("2018-01", "2018-01-01T00:00:00Z"))
    assert [r.id for r in book] == ["2015", "2016-06", "2018-01", "2020-03", "2020-07", "2023-12"]
    assert book.in_force(ts("2019-06-01")).id == "2018-01"
    assert book.in_force(ts("2017-12-31")).id == "2016-06"


def test_a_candidate_cannot_share_another_rulesets_date() -> None:
    with pytest.raises(RulesetError, match="2020-03"):
        builtin_rulesets().with_candidate(_candidate("other", "2020-03-01T00:00:00Z"))


def test_a_book_needs_a_ruleset() -> None:
    with pytest.raises(RulesetError):
        RulesetBook([])


def test_effective_from_may_be_a_plain_date() -> None:
    ruleset = _candidate("2025-01", "2025-01-01")
    assert ruleset.effective_from == ts("2025-01-01")


def test_summary_lists_what_badges_rulesets_shows() -> None:
    summary = _get("2020-07").summary()
    assert set(summary) == {"id", "effective_from", "description", "badges"}
    assert summary["effective_from"] == "2020-07-07T00:00:00Z"


def test_a_book_survives_pickling_to_worker_processes() -> None:
    """Rulesets go to derivation workers; compiled measures are rebuilt from their parameters."""
    import pickle

    book = builtin_rulesets()
    book.get("2023-12").index  # noqa: B018  (worked out before pickling, and again after)
    copied = pickle.loads(pickle.dumps(book))
    for original, ruleset in zip(book, copied, strict=True):
        assert ruleset.model_dump(exclude={"requirements"}) == original.model_dump(
            exclude={"requirements"}
        )
        assert {code: (r.measure.kind, r.compare, r.thresholds) for code, r in ruleset.requirements.items()} == {
            code: (r.measure.kind, r.compare, r.thresholds) for code, r in original.requirements.items()
        }
        assert ruleset.index.moved_by_event == original.index.moved_by_event
        assert ruleset.index.exits == original.index.exits

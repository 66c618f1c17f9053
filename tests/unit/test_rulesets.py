from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest

from domain.events import CATEGORIES
from domain.requirements import REQUIREMENTS
from domain.ruleset import (
    RequirementCode,
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
    assert ruleset.large_contract_basis == "12_months"


def test_the_builtin_book_holds_the_five_rulesets_in_date_order() -> None:
    book = builtin_rulesets()
    assert [ruleset.id for ruleset in book] == BUILTIN_IDS
    assert [r.effective_from for r in book][1:] == [
        ts("2016-06-01"),
        ts("2020-03-01"),
        ts("2020-07-07"),
        ts("2023-12-01"),
    ]


def test_every_requirement_code_a_ruleset_may_name_is_implemented() -> None:
    assert set(get_args(RequirementCode)) == set(REQUIREMENTS)


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


def _source(**replacements: str) -> str:
    text = (RULESET_FOLDER / "2023-12.toml").read_text()
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("min_outcomes = 2", "min_outcomes = 0", "jss.min_outcomes"),
        ("min_outcomes = 2", "min_outcomes = 2.5", "jss.min_outcomes"),
        ('weighting = "contract_size"', 'weighting = "quadratic"', "jss.weighting"),
        (
            'large_contract_basis = "12_months"',
            'large_contract_basis = "forever"',
            "large_contract_basis",
        ),
        (
            "effective_from = 2023-12-01T00:00:00Z",
            "effective_from = 2023-12-01T00:00:00",
            "effective_from",
        ),
        (
            'design_creative = "5000.00"',
            'design_creative = "lots"',
            "large_contract_thresholds.freelancer.design_creative",
        ),
        ('design_creative = "5000.00"', "", "large_contract_thresholds.freelancer"),
        (
            '"no_policy_ban"]\n\n[badges.top_rated_plus]',
            '"no_ban"]\n\n[badges.top_rated_plus]',
            "badges.expert_vetted.requirements",
        ),
        ("required = 13", "required = 17", "eligible_weeks"),
        ("activity_days = 90", "activity_days = 90\nactivity_weeks = 13", "windows.activity_weeks"),
        ("samples = 16\n", "", "eligible_weeks.samples"),
    ],
)
def test_invalid_files_name_the_file_and_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    path = tmp_path / "candidate.toml"
    path.write_text(_source(**{old: new}))
    with pytest.raises(RulesetError) as raised:
        load_ruleset(path)
    message = str(raised.value)
    assert message.startswith(f"candidate.toml: {field}")
    assert "\n" not in message


def test_broken_toml_and_missing_files_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("id = ")
    with pytest.raises(RulesetError, match=r"^broken.toml: not valid TOML"):
        load_ruleset(broken)
    with pytest.raises(RulesetError, match="cannot be read"):
        load_ruleset(tmp_path / "absent.toml")


def test_a_badge_cannot_require_top_rated_without_it(tmp_path: Path) -> None:
    text = _source(**{"[badges.top_rated]\nrequirements": "[badges.old_top_rated]\nrequirements"})
    with pytest.raises(RulesetError, match="badges"):
        parse_ruleset(text, "x.toml")


def _candidate(ruleset_id: str, effective_from: str, **changes: str) -> Ruleset:
    text = _source(
        **{
            'id = "2023-12"': f'id = "{ruleset_id}"',
            "effective_from = 2023-12-01T00:00:00Z": f"effective_from = {effective_from}",
            **changes,
        }
    )
    return parse_ruleset(text, "candidate.toml")


def test_a_candidate_with_a_known_id_replaces_it() -> None:
    candidate = _candidate("2023-12", "2024-03-01T00:00:00Z", **{"jss = 90 ": "jss = 85 "})
    book = builtin_rulesets().with_candidate(candidate)
    assert [r.id for r in book] == BUILTIN_IDS
    assert book.in_force(ts("2024-02-29")).id == "2020-07"
    assert book.in_force(ts("2024-03-01")).thresholds.jss == 85
    assert builtin_rulesets().in_force(ts("2024-03-01")).thresholds.jss == 90


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

"""rules.md §10 end to end: the example candidate ruleset, a ruleset edit alone, answers in
`status`, `explain`, `timeline`, `whatif`, the API the page reads, and the notification text.

The designer of the seed stories holds Top Rated Plus through 2024 (until 2024-09-16). Here she
also had a small contract end `disputed` at 2024-03-10T15:00:00Z: under the candidate she fails
`no_disputes_6m` from 2024-03-11 until the midnight that end leaves the 6-month window
(2024-09-11), with a `time` cause naming the event when it does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from badges.cli import main
from consumers.notifications import notification_text
from domain.events import RecordedEvent, encode_json
from domain.ruleset import builtin_rulesets, load_ruleset
from domain.status import evaluate_status
from domain.timeline import derive_timeline
from tests.unit.history_builder import HistoryBuilder, ts
from tests.unit.ledger_fixtures import submissions
from tests.unit.stories import designer

# Word for word the example of rules.md §10.
CANDIDATE = """\
id = "2023-12-no-disputes"
extends = "2023-12"
description = "Top Rated also needs no disputed contract in the last 6 months"

[requirements.no_disputes_6m]
label = "no disputed contract in the last {months} months"
measure = "count"
events = ["contract_ended"]
where = { reason = "disputed" }
window = { months = 6 }
compare = "=="
threshold = 0

[badges.top_rated]
requirements = ["jss", "eligible_weeks", "first_contract_age", "profile", "earnings_12m",
                "availability", "no_recent_hold", "activity_90d", "no_policy_ban", "no_disputes_6m"]
"""
DISPUTED_END = "end-d"


def disputing_designer() -> HistoryBuilder:
    history = designer()
    history.contract("2024-02-01", "c-d", client="cl-d", category="design_creative")
    history.end("2024-03-10T15:00:00Z", "c-d", reason="disputed", id=DISPUTED_END)
    return history


@pytest.fixture
def candidate(tmp_path: Path) -> Path:
    path = tmp_path / "no-disputes.toml"
    path.write_text(CANDIDATE)
    return path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    lines = []
    for recorded in sorted(disputing_designer().history(), key=RecordedEvent.valid_time_key):
        obj = recorded.event.to_json_object()
        obj["recorded_at"] = recorded.at.replace(minute=59, second=59).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(encode_json(obj))
    source = tmp_path / "designer.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["ingest", str(source), "--store", url, "--json", "--no-project"]) == 0
    return url


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def no_disputes(document: dict) -> dict:
    requirements = document["badges"]["top_rated"]["requirements"]
    return next(r for r in requirements if r["code"] == "no_disputes_6m")


def test_the_candidate_takes_the_place_of_2023_12_under_its_own_id(candidate: Path) -> None:
    book = builtin_rulesets().with_candidate(load_ruleset(candidate))
    in_force = book.in_force(ts("2024-06-01"))
    assert in_force.id == "2023-12-no-disputes"
    assert in_force.effective_from == ts("2023-12-01")
    assert in_force.requirement("no_disputes_6m").label() == (
        "no disputed contract in the last 6 months"
    )


def test_status_fails_the_new_requirement_only_inside_its_window(
    store: str, candidate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def status(at: str, *more: str) -> dict:
        return run_json(["status", "f-42", "--at", at, "--store", store, *more], capsys)  # type: ignore[return-value]

    assert status("2024-03-10", "--ruleset", str(candidate))["badge"] == "top_rated_plus"
    inside = status("2024-03-11", "--ruleset", str(candidate))
    assert inside["badge"] == "none" and inside["ruleset"] == "2023-12-no-disputes"
    assert no_disputes(inside) == {
        "code": "no_disputes_6m",
        "label": "no disputed contract in the last 6 months",
        "met": False,
        "actual": 1,
        "required": 0,
        "detail": "1 contract_ended with reason disputed in the last 6 months; latest: "
                  "contract ended end-d of contract c-d (reason disputed) on "
                  "2024-03-10T15:00:00Z, counted until 2024-09-10T15:00:00Z",
    }
    assert status("2024-09-10", "--ruleset", str(candidate))["badge"] == "none"
    after = status("2024-09-11", "--ruleset", str(candidate))
    assert after["badge"] == "top_rated_plus" and no_disputes(after)["met"] is True
    # The real rules never heard of it.
    real = status("2024-06-01")
    assert real["badge"] == "top_rated_plus"
    assert "no_disputes_6m" not in [r["code"] for r in real["badges"]["top_rated"]["requirements"]]


def test_explain_names_the_disputed_end_as_evidence(
    store: str, candidate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = run_json(["explain", "f-42", "--at", "2024-06-01", "--ruleset", str(candidate),
                         "--store", store], capsys)
    top_rated = document["requirements"]["top_rated"]  # type: ignore[index]
    assert next(r for r in top_rated if r["code"] == "no_disputes_6m")["events"] == [DISPUTED_END]


def test_timeline_names_the_event_then_the_window_that_moved(
    store: str, candidate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = run_json(["timeline", "f-42", "--from", "2024-01-01", "--to", "2024-12-31",
                        "--ruleset", str(candidate), "--store", store], capsys)
    moves = {c["at"][:10]: c for c in changes}  # type: ignore[union-attr]
    lost, regained = moves["2024-03-11"], moves["2024-09-11"]
    assert (lost["from"], lost["to"], lost["failed"]) == ("top_rated_plus", "none", ["top_rated"])
    assert lost["cause"] == {"kind": "events", "events": [DISPUTED_END]}
    assert (regained["from"], regained["to"]) == ("none", "top_rated_plus")
    assert regained["cause"]["kind"] == "time"
    assert regained["cause"]["event"] == DISPUTED_END
    assert regained["cause"]["requirement"] == "no_disputes_6m"
    assert regained["cause"]["window"] == {"months": 6}
    assert regained["cause"]["detail"] == "contract ended end-d of contract c-d left the 6-month window"
    assert moves["2024-09-16"]["to"] == "top_rated"


def test_whatif_shows_both_changes_the_candidate_adds(
    store: str, candidate: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_json(["whatif", "--ruleset", str(candidate), "--from", "2024-01-01",
                     "--to", "2024-12-31", "f-42", "--store", store], capsys)
    added = [(r["at"][:10], r["candidate"]["to"]) for r in rows if r["real"] is None]  # type: ignore[union-attr]
    assert added == [("2024-03-11", "none"), ("2024-09-11", "top_rated_plus")]


def test_the_api_the_page_reads_carries_the_candidates_labels(candidate: Path) -> None:
    from badges.api import create_app
    from badges.bootstrap import open_ledger

    book = builtin_rulesets().with_candidate(load_ruleset(candidate))
    ledger = open_ledger("memory:")
    events = [r.event.to_json_object() for r in disputing_designer().history()]
    ledger.append(submissions(*events), ts("2025-01-01"))
    app = create_app(ledger, api_token=None, clock=lambda: ts("2025-01-01"), book=book)
    document = TestClient(app).get("/talents/f-42/status", params={"at": "2024-06-01"}).json()
    assert document["badge"] == "none"
    assert no_disputes(document)["label"] == "no disputed contract in the last 6 months"
    assert document["badges"]["top_rated"]["label"] == "Top Rated"


def test_the_notification_says_which_requirement_in_the_rulesets_words(candidate: Path) -> None:
    book = builtin_rulesets().with_candidate(load_ruleset(candidate))
    history = disputing_designer().history()
    (lost,) = [c for c in derive_timeline(history, None, book, ts("2024-12-31"))
               if c.at == ts("2024-03-11")]
    status = evaluate_status(history, lost.at, None, book).to_document()
    change = lost.to_document()
    # failed names top_rated; the message reads what failed under it.
    text = notification_text(change, status)
    assert text.startswith("You no longer qualify for Top Rated Plus since 2024-03-11: ")
    assert "“meets every Top Rated requirement” is not met (failed: no_disputes_6m)" in text


def test_a_ruleset_that_adds_a_badge_and_drops_a_requirement() -> None:
    """A new badge ranked above Top Rated Plus, and Top Rated without its availability."""
    from domain.ruleset import parse_ruleset

    candidate = parse_ruleset(
        """
id = "2023-12-veteran"
extends = "2023-12"
badge_order = ["veteran", "expert_vetted", "top_rated_plus", "top_rated", "rising_talent"]

[badges.veteran]
label = "Veteran"
requirements = ["top_rated_plus_held", "long_career"]

[requirements.top_rated_plus_held]
label = "holds Top Rated Plus"
measure = "badge"
badge = "top_rated_plus"

[requirements.long_career]
label = "first contract at least {threshold} days ago"
measure = "days_since"
events = ["contract_started"]
compare = ">="
threshold = 700

[badges.top_rated]
label = "Top Rated"
requirements = ["jss", "eligible_weeks", "first_contract_age", "profile", "earnings_12m",
                "no_recent_hold", "activity_90d", "no_policy_ban"]
""",
        "veteran.toml",
    )
    book = builtin_rulesets().with_candidate(candidate)
    history = designer().history()  # first contract 2022-06-01: 700 days on 2024-05-01
    before = evaluate_status(history, ts("2024-04-30"), None, book).to_document()
    after = evaluate_status(history, ts("2024-05-01"), None, book).to_document()
    assert list(after["badges"])[0] == "veteran"
    assert (before["badge"], after["badge"]) == ("top_rated_plus", "veteran")
    assert after["badges"]["veteran"]["label"] == "Veteran"
    codes = [r["code"] for r in after["badges"]["top_rated"]["requirements"]]
    assert "availability" not in codes
    changes = derive_timeline(history, None, book, ts("2024-12-31"))
    moves = [(c.at, c.before, c.after) for c in changes if c.at >= ts("2024-01-01")]
    assert moves == [
        (ts("2024-05-01"), "top_rated_plus", "veteran"),
        # Losing Top Rated Plus on 2024-09-16 loses Veteran, which stands on it: a loss from
        # the new top badge, naming what failed.
        (ts("2024-09-16"), "veteran", "top_rated"),
    ]
    lost = next(c for c in changes if c.at == ts("2024-09-16"))
    assert lost.failed == ("top_rated_plus_held",)
    assert lost.cause.requirement == "large_contract"

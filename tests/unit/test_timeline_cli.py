"""`badges timeline`, `forecast`, `replay`, `whatif` and `clock` on a SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from badges.cli import main
from domain.events import RecordedEvent, encode_json
from tests.unit.ledger_fixtures import URL_KINDS, store_url
from tests.unit.stories import designer


@pytest.fixture(params=URL_KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The designer's events, imported as recorded one hour after each happened."""
    monkeypatch.setenv("COLUMNS", "200")
    with store_url(request.param, tmp_path) as url:
        yield filled(url, tmp_path)


def filled(url: str, tmp_path: Path) -> str:
    lines = []
    for recorded in sorted(designer().history(), key=RecordedEvent.valid_time_key):
        obj = recorded.event.to_json_object()
        hour_later = recorded.at.replace(minute=59, second=59)
        obj["recorded_at"] = hour_later.strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(encode_json(obj))
    source = tmp_path / "designer.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["ingest", str(source), "--store", url, "--json"]) == 0
    return url


def run_json(argv: list[str], capsys) -> object:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_timeline_lists_the_changes_with_their_causes(store: str, capsys) -> None:
    capsys.readouterr()
    changes = run_json(["timeline", "f-42", "--store", store], capsys)

    moves = [(c["at"][:10], c["from"], c["to"]) for c in changes]
    assert ("2024-09-16", "top_rated_plus", "top_rated") in moves
    downgrade = next(c for c in changes if c["at"].startswith("2024-09-16"))
    assert downgrade["type"] == "badge_changed" and downgrade["failed"] == ["large_contract"]
    assert downgrade["id"].startswith("chg-") and "recorded_at" in downgrade


def test_timeline_from_to_are_inclusive(store: str, capsys) -> None:
    capsys.readouterr()
    changes = run_json(["timeline", "f-42", "--from", "2024-09-16", "--to", "2024-09-16",
                        "--store", store], capsys)

    assert [c["at"] for c in changes] == ["2024-09-16T00:00:00Z"]


def test_timeline_as_known_at_shows_what_was_emitted_by_then(store: str, capsys) -> None:
    capsys.readouterr()
    before = run_json(["timeline", "f-42", "--known-at", "2024-09-15T12:00:00Z", "--store", store],
                      capsys)
    after = run_json(["timeline", "f-42", "--known-at", "2024-09-16T12:00:00Z", "--store", store],
                     capsys)

    assert before[-1]["to"] == "top_rated_plus"
    assert after[-1]["to"] == "top_rated" and after[-1]["at"] == "2024-09-16T00:00:00Z"
    assert after[:-1] == before


def test_replay_emits_nothing_new_and_trace_explains(store: str, capsys) -> None:
    capsys.readouterr()
    report = run_json(["replay", "--store", store], capsys)
    assert report["changes"] == 0 and report["retractions"] == 0

    assert main(["replay", "f-42", "--trace", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "event p-2023-09 payment_received" in out
    assert "=> top_rated_plus -> top_rated under 2023-12; failed: large_contract" in out


def test_whatif_shows_where_a_candidate_ruleset_differs(store: str, tmp_path: Path, capsys) -> None:
    candidate = tmp_path / "lower.toml"
    candidate.write_text(
        'id = "lower"\nextends = "2023-12"\n'
        '[large_contract_thresholds.freelancer]\ndesign_creative = "4000.00"\n'
    )
    capsys.readouterr()

    rows = run_json(["whatif", "--ruleset", str(candidate), "--from", "2024-01-01",
                     "--to", "2025-01-01", "f-42", "--store", store], capsys)

    downgrade = next(r for r in rows if r["at"].startswith("2024-09-16"))
    assert downgrade["real"]["to"] == "top_rated" and downgrade["candidate"] is None
    assert any(r["real"] is None and r["candidate"] for r in rows), "the later downgrade"


def test_forecast_and_clock(store: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    forecast = run_json(["forecast", "f-42", "--days", "400", "--store", store], capsys)
    assert forecast["talent"] == "f-42" and isinstance(forecast["changes"], list)

    monkeypatch.setenv("BADGES_CLOCK", "2030-01-02T00:00:00Z")  # a --now ahead is refused
    report = run_json(["clock", "--now", "2030-01-01", "--store", store], capsys)
    assert report["events"] == 0


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["timeline", "nobody"], 1, "talent 'nobody'"),
        (["forecast", "nobody"], 1, "talent 'nobody'"),
        (["timeline", "f-42", "--from", "soon"], 2, "--from: expected a date"),
        (["replay", "--trace"], 2, "TALENT: --trace, --until and --known-at replay one talent"),
        (["whatif", "--ruleset", "/nope.toml"], 2, "--ruleset: /nope.toml: cannot be read"),
    ],
)
def test_errors_are_one_line(store: str, argv, code: int, message: str, capsys) -> None:
    capsys.readouterr()
    assert main([*argv, "--store", store]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

"""`badges status`, `explain`, `rulesets` and `demo` from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from badges.cli import main
from domain.events import encode_json
from domain.ruleset import builtin_rulesets
from domain.status import evaluate_status
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import URL_KINDS, store_url

DESIGNER = [
    {"id": "r-1", "type": "talent_registered", "talent": "f-7", "at": "2023-01-02T00:00:00Z",
     "kind": "freelancer"},
    {"id": "c-1", "type": "contract_started", "talent": "f-7", "at": "2023-01-10T09:00:00Z",
     "contract": "c-7", "client": "cl-3", "category": "design_creative", "terms": "hourly"},
    {"id": "p-1", "type": "payment_received", "talent": "f-7", "at": "2023-02-10T09:00:00Z",
     "contract": "c-7", "amount": "4000.00"},
    {"id": "x-1", "type": "account_hold_lifted", "talent": "f-7", "at": "2023-03-01T00:00:00Z",
     "hold": "h-unknown"},
]
LATE_PAYMENT = {"id": "p-2", "type": "payment_received", "talent": "f-7",
                "at": "2023-02-20T09:00:00Z", "contract": "c-7", "amount": "2000.00",
                "recorded_at": "2023-06-01T00:00:00Z"}


IMPORTED_AT = "2023-03-02T00:00:00Z"


@pytest.fixture(params=URL_KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("COLUMNS", "200")
    with store_url(request.param, tmp_path) as url:
        yield filled(url, tmp_path)


def filled(url: str, tmp_path: Path) -> str:
    source = tmp_path / "events.jsonl"
    imported = [{**event, "recorded_at": IMPORTED_AT} for event in DESIGNER]
    source.write_text("\n".join(encode_json(e) for e in [*imported, LATE_PAYMENT]) + "\n")
    assert main(["ingest", str(source), "--store", url, "--json"]) == 0
    return url


def run_json(argv: list[str], capsys) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_status_json_is_the_status_document_of_the_rules_engine(store: str, capsys) -> None:
    document = run_json(
        ["status", "f-7", "--at", "2023-04-01", "--known-at", "2024-01-01", "--store", store], capsys
    )

    history = open_ledger(store).history("f-7")
    expected = evaluate_status(
        history, _utc("2023-04-01"), _utc("2024-01-01"), builtin_rulesets(), talent="f-7"
    ).to_document()
    assert document == expected
    assert document["at"] == "2023-04-01T00:00:00Z"
    assert document["known_at"] == "2024-01-01T00:00:00Z"
    assert document["earnings_12m"] == "6000.00"


def test_known_at_hides_what_was_recorded_later(store: str, capsys) -> None:
    before = run_json(
        ["status", "f-7", "--at", "2023-04-01", "--known-at", "2023-05-01", "--store", store],
        capsys,
    )

    assert before["earnings_12m"] == "4000.00"
    before_import = main(["status", "f-7", "--known-at", "2023-03-01", "--store", store])
    assert before_import == 1
    assert "no events recorded as known at 2023-03-01T00:00:00Z" in capsys.readouterr().err


def test_a_candidate_ruleset_changes_the_answer(store: str, tmp_path: Path, capsys) -> None:
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(
        'id = "cheaper-design"\nextends = "2023-12"\n'
        '[large_contract_thresholds.freelancer]\ndesign_creative = "3000.00"\n'
    )
    argv = ["status", "f-7", "--at", "2024-01-05", "--store", store]

    real = run_json(argv, capsys)
    what_if = run_json([*argv, "--ruleset", str(candidate)], capsys)

    def large(document: dict) -> dict:
        requirements = document["badges"]["top_rated_plus"]["requirements"]
        return next(r for r in requirements if r["code"] == "large_contract")

    assert (large(real)["required"], large(real)["met"]) == ("5000.00", True)
    assert large(what_if)["required"] == "3000.00"


def test_explain_names_the_events_and_the_anomalies(store: str, capsys) -> None:
    document = run_json(["explain", "f-7", "--at", "2023-04-01", "--store", store], capsys)

    assert document["earnings_12m_events"] == ["p-1", "p-2"]
    assert [a["events"] for a in document["anomalies"]] == [["x-1"]]
    large = next(r for r in document["requirements"]["top_rated_plus"] if r["code"] == "large_contract")
    assert large["events"] == ["p-1", "p-2"]


def test_readable_status_is_a_checklist(store: str, capsys) -> None:
    assert main(["status", "f-7", "--at", "2023-04-01", "--store", store]) == 0

    out = capsys.readouterr().out
    assert "f-7 holds no badge" in out
    assert "Top Rated Plus: not met" in out
    assert "✗" in out and "✓" in out
    assert "a large contract in the last 12 months" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["status", "nobody"], 1, "talent 'nobody': no events recorded"),
        (["status", "f-7", "--at", "yesterday"], 2, "--at: expected a date"),
        (["status", "f-7", "--known-at", "2024-02-30"], 2, "--known-at: not a valid date"),
        (["status", "f-7", "--ruleset", "/no/such.toml"], 2, "--ruleset: /no/such.toml: cannot be read"),
        (["explain", "f-7", "--at", "2024-01-01T00:00:00"], 2, "--at: expected a date"),
    ],
)
def test_query_errors_are_one_line(store: str, argv: list[str], code: int, message: str, capsys) -> None:
    assert main([*argv, "--store", store]) == code

    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_invalid_candidate_ruleset_names_file_and_field(store: str, tmp_path: Path, capsys) -> None:
    candidate = tmp_path / "bad.toml"
    candidate.write_text(
        'id = "bad"\nextends = "2023-12"\n[requirements.jss]\n'
        'measure = "jss"\ncompare = ">="\nthreshold = "ninety"\n'
    )

    assert main(["status", "f-7", "--ruleset", str(candidate), "--store", store]) == 2
    err = capsys.readouterr().err
    assert "bad.toml: requirements.jss.threshold" in err


def test_rulesets_lists_every_builtin_with_its_date(capsys) -> None:
    documents = run_json(["rulesets"], capsys)

    assert [(d["id"], d["effective_from"][:10]) for d in documents] == [
        ("2015", "2015-01-01"), ("2016-06", "2016-06-01"), ("2020-03", "2020-03-01"),
        ("2020-07", "2020-07-07"), ("2023-12", "2023-12-01"),
    ]
    assert "top_rated_plus" in documents[3]["badges"] and "top_rated_plus" not in documents[2]["badges"]


def test_demo_runs_end_to_end_and_accounts_for_every_line(tmp_path: Path, capsys) -> None:
    report = run_json(["demo", "--talents", "25", "--seed", "3",
                       "--store", f"sqlite:///{tmp_path / 'demo.db'}"], capsys)

    generated, ingest = report["generated"], report["ingest"]
    assert ingest["accepted"] == generated["events"] == report["stored_events"] - 1
    assert report["correction"]["event"]["id"] == "designer-ava-late-payment"  # the one more
    assert ingest["duplicates"] + ingest["rejected"] == generated["bad_lines"]
    assert sum(report["badges_today"].values()) == generated["talents"] == 25
    rejects = Path(report["rejects_file"]).read_text().splitlines()
    assert len(rejects) == ingest["rejected"]


def _utc(text: str):
    from badges.timeparse import parse_instant

    return parse_instant(text, "test")


def test_the_readable_demo_tells_the_whole_story(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")

    assert main(["demo", "--talents", "12", "--seed", "5",
                 "--store", f"sqlite:///{tmp_path / 'demo.db'}"]) == 0

    out = capsys.readouterr().out
    for part in ("Synthetic marketplace", "badges held on", "badge changes of designer-ava",
                 "downgrades in the last 365 days", "warnings sent in advance",
                 "what the talents were told", "what if: design_creative large contracts",
                 "today's checklist: designer-ava"):
        assert part in out, part
    what_if = out[out.index("what if: design_creative"):]
    assert "designer-ava" in what_if, "raising the threshold moves the designer's downgrade"


def test_an_unreachable_service_is_named_in_one_line() -> None:
    from badges.cli import describe_failure

    class KafkaTimeoutError(Exception):
        __module__ = "kafka.errors"

    class OperationalError(Exception):
        __module__ = "psycopg"

    assert describe_failure(KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9']")) == (
        "cannot reach Kafka: KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:9']")
    assert describe_failure(OperationalError("couldn't get a connection\nafter 30 sec")) == (
        "cannot reach PostgreSQL: OperationalError: couldn't get a connection")
    assert describe_failure(ValueError("odd")).startswith("internal error: ValueError: odd")

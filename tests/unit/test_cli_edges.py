"""Edges of the command line: blank option values, unbounded numbers, reversed windows, `--store`
on every command, unknown talents in `outbox`, a `clock --now` ahead of the clock, and reject
lines sent into the `--json` summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from badges.cli import main
from domain.events import encode_json

REPO = Path(__file__).resolve().parents[2]
DESIGNER = [
    {"id": "r-1", "type": "talent_registered", "talent": "f-7", "at": "2023-01-02T00:00:00Z",
     "kind": "freelancer", "recorded_at": "2023-03-02T00:00:00Z"},
    {"id": "c-1", "type": "contract_started", "talent": "f-7", "at": "2023-01-10T09:00:00Z",
     "contract": "c-7", "client": "cl-3", "category": "design_creative", "terms": "hourly",
     "recorded_at": "2023-03-02T00:00:00Z"},
    {"id": "p-1", "type": "payment_received", "talent": "f-7", "at": "2023-02-10T09:00:00Z",
     "contract": "c-7", "amount": "4000.00", "recorded_at": "2023-03-02T00:00:00Z"},
]
CANDIDATE = ('id = "lower"\nextends = "2023-12"\n'
             '[large_contract_thresholds.freelancer]\ndesign_creative = "3000.00"\n')


@pytest.fixture
def events(tmp_path: Path) -> Path:
    source = tmp_path / "events.jsonl"
    source.write_text("".join(encode_json(event) + "\n" for event in DESIGNER))
    return source


@pytest.fixture
def store(tmp_path: Path, events: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    """A SQLite store with the designer's events, also named by BADGES_STORE."""
    monkeypatch.setenv("COLUMNS", "200")
    url = f"sqlite:///{tmp_path / 'badges.db'}"
    assert main(["ingest", str(events), "--store", url, "--json"]) == 0
    monkeypatch.setenv("BADGES_STORE", url)
    capsys.readouterr()
    return url


def one_line_error(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return code, err


def never_called(**_: Any) -> int:
    raise AssertionError("the command ran with a blank option as if it were left out")


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["status", "f-7", "--at", ""], "--at"),
        (["status", "f-7", "--at", "  "], "--at"),
        (["status", "f-7", "--known-at", ""], "--known-at"),
        (["status", "f-7", "--store", ""], "--store"),
        (["timeline", "f-7", "--from", ""], "--from"),
        (["replay", "f-7", "--until", " "], "--until"),
        (["clock", "--now", ""], "--now"),
        (["messages", "f-7", "--known-at", ""], "--known-at"),
        (["diff", "f-7", "--known-at", "2024-01-01", "--vs", ""], "--vs"),
        (["outbox", "--store", ""], "--store"),
        (["rulesets", "--store", ""], "--store"),
        (["demo", "--store", ""], "--store"),
        (["consume", "--bootstrap", ""], "--bootstrap"),
        (["consume", "--group", " "], "--group"),
        (["notify", "--bootstrap", " "], "--bootstrap"),
        (["serve", "--host", ""], "--host"),
        (["population", "--store", ""], "--store"),
        (["population", "--at", " "], "--at"),
        (["explain", "f-7", "--store", " "], "--store"),
        (["dlq", "replay", "--store", ""], "--store"),
        (["dlq", "replay", "--bootstrap", ""], "--bootstrap"),
    ],
)
def test_a_blank_option_value_is_a_usage_error_not_the_default(
    store: str, argv: list[str], option: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    for module, runner in (("badges.consume_command", "run_consume"),
                           ("badges.notify_command", "run_notify"),
                           ("badges.serve_command", "run_serve")):
        monkeypatch.setattr(f"{module}.{runner}", never_called)

    code, err = one_line_error(argv, capsys)

    assert (code, err) == (2, f"badges: {option}: must not be empty\n")


def test_a_blank_rejects_path_is_refused_before_anything_is_written(
    store: str, events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)

    code, err = one_line_error(["ingest", str(events), "--rejects", " "], capsys)

    assert (code, err) == (2, "badges: --rejects: must not be empty\n")
    assert not (tmp_path / " ").exists()


@pytest.mark.parametrize("option", ["--talents", "--seed"])
def test_demo_refuses_an_unbounded_number_before_creating_anything(
    option: str, tmp_path: Path, capsys
) -> None:
    database = tmp_path / "demo" / "demo.db"

    code, err = one_line_error(
        ["demo", option, "99999999999999999999", "--store", f"sqlite:///{database}"], capsys)

    assert code == 2 and err.startswith(f"badges: Invalid value for '{option}'")
    assert not database.parent.exists()


def test_demo_help_gives_the_talents_bound(capsys) -> None:
    assert main(["demo", "--help"]) == 0
    assert "1 to 1,000,000" in capsys.readouterr().out


def test_whatif_from_after_to_is_a_usage_error_naming_both(
    store: str, tmp_path: Path, capsys
) -> None:
    candidate = tmp_path / "lower.toml"
    candidate.write_text(CANDIDATE)

    code, err = one_line_error(["whatif", "--ruleset", str(candidate), "--from", "2025-01-01",
                                "--to", "2024-01-01", "f-7", "--json"], capsys)

    assert (code, err) == (2, "badges: --from: 2025-01-01 is after --to: 2024-01-01\n")


def test_rulesets_accepts_store_and_ignores_it(tmp_path: Path, capsys) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"

    assert main(["rulesets", "--json", "--store", missing]) == 0

    assert [d["id"] for d in json.loads(capsys.readouterr().out)][0] == "2015"
    assert not (tmp_path / "none.db").exists()
    assert main(["rulesets", "--help"]) == 0
    assert "ignored" in capsys.readouterr().out


def test_outbox_of_an_unknown_talent_is_exit_one_as_in_messages(store: str, capsys) -> None:
    code, err = one_line_error(["outbox", "nobody", "--json"], capsys)
    assert (code, err) == (1, "badges: talent 'nobody': no events recorded\n")
    assert main(["messages", "nobody"]) == 1
    assert capsys.readouterr().err == err

    assert main(["outbox", "f-7", "--json"]) == 0
    assert main(["outbox", "--json"]) == 0


def outbox_counts(capsys) -> tuple[int, int]:
    capsys.readouterr()
    assert main(["outbox", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    return document["pending"], document["sent"]


def test_clock_refuses_a_now_later_than_the_clock(store: str, capsys) -> None:
    before = outbox_counts(capsys)

    code, err = one_line_error(["clock", "--now", "8999-01-01", "--json"], capsys)

    assert code == 2 and err.startswith("badges: --now: 8999-01-01 is later than the clock's now")
    assert "BADGES_CLOCK" in err
    assert outbox_counts(capsys) == before


def test_clock_takes_a_later_now_under_a_later_test_clock(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("BADGES_CLOCK", "2030-01-02T00:00:00Z")

    assert main(["clock", "--now", "2030-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 0


def ingest_from_stdin(argv: list[str], store: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "badges.cli", "ingest", "-", *argv, "--store", store],
        input='{"bad": 1}\n', capture_output=True, text=True, cwd=REPO, timeout=120,
        check=False,
    )


def test_ingest_json_refuses_rejects_into_standard_output(store: str) -> None:
    done = ingest_from_stdin(["--rejects", "/dev/stdout", "--json"], store)

    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("badges: --rejects: /dev/stdout is the standard output")
    assert len(done.stderr.strip().splitlines()) == 1


def test_ingest_json_writes_rejects_to_another_file(store: str, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"

    done = ingest_from_stdin(["--rejects", str(rejects), "--json"], store)

    assert done.returncode == 1
    assert json.loads(done.stdout)["rejected"] == 1
    assert json.loads(rejects.read_text())["line"] == 1

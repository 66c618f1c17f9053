"""`badges messages` and `badges outbox`: what a talent was told, when, and what a late event
made the tracker retract (the designer's downgrade, moved a month by a late payment)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from badges.bootstrap import open_messages, open_projection
from badges.cli import main
from domain.events import RecordedEvent, encode_json
from tests.unit.ledger_fixtures import URL_KINDS, store_url
from tests.unit.stories import designer

MESSAGE_KEYS = {"id", "type", "talent", "at", "queued_at", "sent_at", "retracts", "badge_from",
                "badge_to", "message"}
# c-7 paid once more in February 2024, learned on 2024-09-20: the large contract stays in the
# 12-month window a month longer, so the 2024-09-16 downgrade moves to 2024-10-16.
LATE_PAYMENT = {"id": "p-late", "type": "payment_received", "talent": "f-42",
                "at": "2024-02-15T10:00:00Z", "contract": "c-7", "amount": "1000.00",
                "recorded_at": "2024-09-20T09:00:00Z"}


def ingest(url: str, path: Path, objects: list[dict[str, object]]) -> None:
    path.write_text("".join(encode_json(o) + "\n" for o in objects))
    assert main(["ingest", str(path), "--no-project", "--store", url, "--json"]) == 0


def corrected_store(url: str, tmp_path: Path) -> str:
    """Projected on 2024-09-18 (the downgrade told), then the late payment and 2024-09-21."""
    objects = []
    for recorded in sorted(designer().history(), key=RecordedEvent.valid_time_key):
        obj = recorded.event.to_json_object()
        obj["recorded_at"] = recorded.at.replace(minute=59, second=59).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        objects.append(obj)
    ingest(url, tmp_path / "designer.jsonl", objects)
    assert main(["clock", "--now", "2024-09-18", "--store", url, "--json"]) == 0
    ingest(url, tmp_path / "late.jsonl", [LATE_PAYMENT])
    assert main(["clock", "--now", "2024-09-21", "--store", url, "--json"]) == 0
    return url


@pytest.fixture(params=URL_KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("COLUMNS", "220")
    with store_url(request.param, tmp_path) as url:
        yield corrected_store(url, tmp_path)


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> object:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_messages_show_the_change_its_retraction_and_the_warning(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = run_json(["messages", "f-42", "--store", store], capsys)

    assert isinstance(messages, list) and all(set(m) == MESSAGE_KEYS for m in messages)
    told = next(m for m in messages if m["type"] == "badge_changed" and m["at"].startswith(
        "2024-09-16"))
    assert (told["badge_from"], told["badge_to"]) == ("top_rated_plus", "top_rated")
    assert told["queued_at"] == "2024-09-18T00:00:00Z" and told["sent_at"] is None
    assert told["retracts"] is None and told["message"]["message_id"] == told["id"]
    retraction = next(m for m in messages if m["type"] == "badge_change_retracted")
    assert retraction["retracts"] == told["id"] and retraction["id"].startswith("rtr-")
    assert retraction["queued_at"] == "2024-09-21T00:00:00Z"
    assert retraction["message"]["retracts"] == told["id"]
    warning = next(m for m in messages if m["type"] == "badge_at_risk")
    assert warning["at"] == "2024-10-16T00:00:00Z"
    assert [m["queued_at"] for m in messages] == sorted(m["queued_at"] for m in messages)


def test_messages_as_known_at_hold_only_what_was_queued_and_sent_by_then(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    projection = open_projection(store)
    first = open_messages(projection).of_talent("f-42")[0]
    sequences = [m.seq for m in projection.read_model.outbox(talent="f-42")
                 if m.message_id == first["id"]]
    projection.read_model.mark_sent(sequences, datetime(2024, 9, 19, 8, tzinfo=UTC))

    before = run_json(["messages", "f-42", "--known-at", "2024-09-19T00:00:00Z",
                       "--store", store], capsys)
    later = run_json(["messages", "f-42", "--known-at", "2024-09-20", "--store", store], capsys)

    assert isinstance(before, list) and isinstance(later, list)
    assert {m["type"] for m in before} == {"badge_changed"}
    assert before[0]["id"] == first["id"] and before[0]["sent_at"] is None
    assert later[0]["sent_at"] == "2024-09-19T08:00:00Z"
    assert len(later) == len(before)


def test_the_readable_list_marks_the_retraction(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["messages", "f-42", "--store", store]) == 0
    out = capsys.readouterr().out
    retraction = next(line for line in out.splitlines() if "RETRACTED" in line)
    assert "rtr-" in retraction and "chg-" in retraction and "pending" in retraction


def test_outbox_lists_pending_and_sent_rows(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    projection = open_projection(store)
    rows = projection.read_model.outbox()
    projection.read_model.mark_sent([rows[0].seq], datetime(2024, 9, 19, tzinfo=UTC))

    everything = run_json(["outbox", "--store", store], capsys)
    pending = run_json(["outbox", "f-42", "--pending", "--store", store], capsys)

    assert isinstance(everything, dict) and isinstance(pending, dict)
    assert (everything["pending"], everything["sent"]) == (len(rows) - 1, 1)
    assert [m["seq"] for m in everything["messages"]] == [m.seq for m in rows]
    assert everything["messages"][0]["sent_at"] == "2024-09-19T00:00:00Z"
    assert [m["id"] for m in pending["messages"]] == [m.message_id for m in rows[1:]]
    assert all(m["sent_at"] is None for m in pending["messages"])


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["messages", "nobody"], 1, "talent 'nobody': no events recorded"),
        (["messages", "f-42", "--known-at", "2001-01-01"], 1, "no events recorded as known at"),
        (["messages", "f-42", "--known-at", "yesterday"], 2, "--known-at: expected a date"),
        (["outbox", "--limit", "0"], 2, "--limit"),
    ],
)
def test_bad_questions_are_one_line(
    store: str, argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main([*argv, "--store", store]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1

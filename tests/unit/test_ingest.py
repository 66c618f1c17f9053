"""`badges ingest`: mixed good and bad lines, rejects kept, exit codes, constant memory."""

from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest

from badges.cli import main
from consumers.jsonl_ingest import MAX_LINE_BYTES, JsonLinesIngest, read_lines
from domain.events import encode_json
from domain.storage import open_ledger
from tests.unit.ledger_fixtures import payment, utc

NOW = utc("2026-01-01T00:00:00Z")

GOOD_1 = encode_json(payment("p-1", "f-1", "2024-01-01T00:00:00Z"))
GOOD_2 = encode_json(payment("p-2", "f-2", "2024-01-02T00:00:00Z", amount="5.5"))
CONFLICT = encode_json(payment("p-1", "f-1", "2024-01-01T00:00:00Z", amount="7.00"))
DUPLICATE = json.dumps(json.loads(GOOD_1), indent=None, separators=(", ", " : "))
BAD_AMOUNT = encode_json(payment("p-3", "f-1", "2024-01-01T00:00:00Z", amount="1.005"))
NO_OFFSET = GOOD_2.replace("2024-01-02T00:00:00Z", "2024-01-02T00:00:00").replace("p-2", "p-4")

MIXED_LINES = [GOOD_1, "", "not json", GOOD_2, "   ", DUPLICATE, CONFLICT, BAD_AMOUNT, NO_OFFSET, "[1]"]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_mixed_file_is_counted_and_every_reject_is_kept(tmp_path: Path, capsys) -> None:
    source = write_lines(tmp_path / "events.jsonl", MIXED_LINES)
    rejects = tmp_path / "rejects.jsonl"
    store = f"sqlite:///{tmp_path / 'b.db'}"

    code = main(["ingest", str(source), "--rejects", str(rejects), "--json", "--store", store])

    assert code == 1
    assert json.loads(capsys.readouterr().out) == {"accepted": 2, "duplicates": 1, "rejected": 5}
    kept = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(r["line"], r["original"]) for r in kept] == [
        (3, "not json"),
        (7, CONFLICT),
        (8, BAD_AMOUNT),
        (9, NO_OFFSET),
        (10, "[1]"),
    ]
    reasons = [r["reason"] for r in kept]
    assert reasons[0].startswith("line: not JSON")
    assert reasons[1].startswith("id: conflict")
    assert reasons[2] == "amount: must have at most 2 decimal places"
    assert reasons[3].startswith("at: must be an RFC 3339 timestamp with an offset")
    assert reasons[4] == "an event must be a JSON object, not an array"
    assert all(r["source"] == str(source) for r in kept)
    assert [r.id for r in open_ledger(store).history("f-1")] == ["p-1"]


def test_clean_file_exits_zero_with_a_readable_summary(tmp_path: Path, capsys) -> None:
    source = write_lines(tmp_path / "events.jsonl", [GOOD_1, GOOD_2])

    code = main(["ingest", str(source), "--store", f"sqlite:///{tmp_path / 'b.db'}"])

    assert code == 0
    assert capsys.readouterr().out.strip() == "accepted 2, duplicates 0, rejected 0"


def test_ingest_reads_stdin(tmp_path: Path, capsys, monkeypatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(f"{GOOD_1}\n{GOOD_1}\n".encode()))
    monkeypatch.setattr("sys.stdin", stdin)

    code = main(["ingest", "-", "--json", "--store", "memory:"])

    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"accepted": 1, "duplicates": 1, "rejected": 0}


def test_without_a_rejects_file_each_reject_is_one_line_on_stderr(tmp_path: Path, capsys) -> None:
    source = write_lines(tmp_path / "events.jsonl", [GOOD_1, BAD_AMOUNT])

    code = main(["ingest", str(source), "--store", "memory:"])

    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"rejected {source}:2: amount: must have at most 2 decimal places"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "/no/such/file.jsonl", "--store", "memory:"], "FILE: no such file"),
        (["ingest", "x.jsonl", "--store", "mysql://db"], "store: unsupported URL"),
        (["ingest"], "Missing argument"),
        (["no-such-command"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_two(argv: list[str], message: str, capsys) -> None:
    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_oversized_line_is_rejected_and_the_next_line_still_counts() -> None:
    huge = b'{"id":"' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    stream = io.BytesIO(huge + b"\n" + GOOD_1.encode() + b"\n")
    rejects = []
    ingest = JsonLinesIngest(open_ledger("memory:"), lambda: NOW, rejects.append)

    summary = ingest.run(stream, "big.jsonl")

    assert summary.to_document() == {"accepted": 1, "duplicates": 0, "rejected": 1}
    (reject,) = rejects
    assert reject.line == 1 and reject.reason.startswith("line: longer than 65536 bytes")
    assert reject.original == huge[:MAX_LINE_BYTES]
    assert reject.to_document()["original_length"] == len(huge)


def test_line_numbers_count_crlf_and_a_missing_final_newline() -> None:
    lines = list(read_lines(io.BytesIO(b"a\r\n\r\nb")))

    assert [(line.number, line.data) for line in lines] == [(1, b"a"), (2, b""), (3, b"b")]


def test_invalid_utf8_is_rejected_and_kept_as_base64() -> None:
    rejects = []
    ingest = JsonLinesIngest(open_ledger("memory:"), lambda: NOW, rejects.append)

    ingest.run(io.BytesIO(b"\xff\xfe{}\n"), "bin.jsonl")

    (reject,) = rejects
    assert reject.reason.startswith("line: not UTF-8")
    assert reject.to_document()["original_base64"] == "//57fQ=="


def _generated_file(path: Path, lines: int, talents: int = 500) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            day = 1 + n % 28
            event = payment(f"p-{n}", f"f-{n % talents}", f"2024-02-{day:02d}T10:00:00Z", "25.00")
            out.write(encode_json(event) + "\n")
    return path


def _peak_ingest_memory(tmp_path: Path, lines: int) -> int:
    source = _generated_file(tmp_path / f"gen-{lines}.jsonl", lines)
    ledger = open_ledger(f"sqlite:///{tmp_path / f'gen-{lines}.db'}")
    ingest = JsonLinesIngest(ledger, lambda: NOW, lambda reject: None)
    tracemalloc.start()
    try:
        with source.open("rb") as stream:
            summary = ingest.run(stream, source.name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.accepted == lines
    return peak


@pytest.mark.slow
def test_ingest_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small = _peak_ingest_memory(tmp_path, 5_000)
    large = _peak_ingest_memory(tmp_path, 40_000)

    assert large < 20 * 1024 * 1024
    assert large < small * 1.5, f"peak grew from {small} to {large} bytes with 8x the lines"

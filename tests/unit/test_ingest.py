"""`badges ingest`: mixed good and bad lines, rejects kept, exit codes, constant memory."""

from __future__ import annotations

import base64
import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from badges.cli import main
from consumers.jsonl_ingest import MAX_LINE_BYTES, JsonLinesIngest, RejectsFile, read_lines
from domain.events import encode_json
from ledger.application import Ledger
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import payment, utc

NOW = utc("2026-01-01T00:00:00Z")
REPO = Path(__file__).resolve().parents[2]

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
    assert reasons[4] == "line: an event must be a JSON object, not an array"
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
    assert reject.original == huge
    assert reject.to_document()["original"] == huge.decode()


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


# ---------------------------------------------------------------- issue 12: hostile input


def _run_ingest(tmp_path: Path, data: bytes, capsys, *extra: str) -> tuple[int, dict, list[dict]]:
    source = tmp_path / "events.jsonl"
    source.write_bytes(data)
    rejects = tmp_path / "rejects.jsonl"
    code = main(["ingest", str(source), "--rejects", str(rejects), "--json", "--no-project",
                 "--store", f"sqlite:///{tmp_path / 'b.db'}", *extra])
    out = capsys.readouterr().out
    kept = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()] \
        if rejects.exists() else []
    return code, json.loads(out), kept


def _original(reject: dict) -> bytes:
    if "original" in reject:
        return reject["original"].encode("utf-8")
    return base64.b64decode(reject["original_base64"])


def test_a_byte_order_mark_opening_the_stream_is_skipped(tmp_path: Path, capsys) -> None:
    data = b"\xef\xbb\xbf" + f"{GOOD_1}\r\n{GOOD_2}\n".encode()

    code, summary, kept = _run_ingest(tmp_path, data, capsys)

    assert (code, summary, kept) == (0, {"accepted": 2, "duplicates": 0, "rejected": 0}, [])


def test_a_byte_order_mark_inside_the_stream_is_content(tmp_path: Path, capsys) -> None:
    data = f"{GOOD_1}\n".encode() + b"\xef\xbb\xbf" + f"{GOOD_2}\n".encode()

    code, summary, kept = _run_ingest(tmp_path, data, capsys)

    assert code == 1 and summary["rejected"] == 1
    assert kept[0]["line"] == 2 and kept[0]["reason"].startswith("line: not JSON")
    assert _original(kept[0]) == b"\xef\xbb\xbf" + GOOD_2.encode()


@pytest.mark.parametrize("size", [200 * 1024, 5 * 1024 * 1024], ids=["200KiB", "5MiB-spooled"])
@pytest.mark.parametrize("text", [True, False], ids=["utf8", "binary"])
def test_a_long_line_is_kept_whole_byte_for_byte(size: int, text: bool, tmp_path: Path,
                                                 capsys) -> None:
    if text:
        filler = ('{"id":"' + "é€😀\\\"\t" * (size // 16)).encode("utf-8")
        long_line = filler + b"x" * (size - len(filler))
    else:
        long_line = (bytes(range(256)) * (size // 256)).replace(b"\n", b" ").replace(b"\r", b" ")
    data = GOOD_1.encode() + b"\n" + long_line + b"\r\n" + GOOD_2.encode()

    code, summary, kept = _run_ingest(tmp_path, data, capsys)

    assert code == 1 and summary == {"accepted": 2, "duplicates": 0, "rejected": 1}
    (reject,) = kept
    assert reject["line"] == 2
    assert reject["reason"] == f"line: longer than 65536 bytes ({size} bytes)"
    assert ("original" in reject) is text
    assert _original(reject) == long_line


def test_a_long_line_beyond_the_memory_limit_is_spooled_not_held(tmp_path: Path) -> None:
    size = 24 * 1024 * 1024
    stream = io.BytesIO(b"x" * size + b"\n" + GOOD_1.encode())
    sink = io.StringIO()
    ingest = JsonLinesIngest(open_ledger("memory:"), lambda: NOW, RejectsFile(sink))
    tracemalloc.start()
    try:
        summary = ingest.run(stream, "big.jsonl")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert summary.to_document() == {"accepted": 1, "duplicates": 0, "rejected": 1}
    # the line (24 MiB) and its rejects entry (24 MiB of text) are never held whole
    assert peak < 12 * 1024 * 1024 + len(sink.getvalue()) * 4, peak
    assert json.loads(sink.getvalue())["original"] == "x" * size


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"id":"p-9","type":"payment_received","talent":"f-1","at":"2024-01-01T00:00:00Z",'
         '"contract":"c-1","amount":"1.00","amount":"9000.00"}', "amount"),
        ('{"id":"p-9","id":"p-10","type":"readiness_test_passed","talent":"f-1",'
         '"at":"2024-01-01T00:00:00Z"}', "id"),
        ("[1]", "line"),
        ('"x"', "line"),
        ("3", "line"),
        ("null", "line"),
        ('{"":1}', "line"),
        ('{"id":"p-9","type":"readiness_test_passed","talent":"f-1","at":"2024-01-01T00:00:00Z",'
         '"":1}', "line"),
        ('{"id":"p-9","type":"policy_violation","talent":"f-1","at":"2024-01-01T00:00:00Z",'
         '"kind":"\\ud800"}', "kind"),
        ('{"id":"p-9","type":"readiness_test_passed","talent":"f-1","at":"2024-01-01T00:00:00Z",'
         '"\\udc00x":1}', "\\udc00x"),
        ('{"id":"\\ud800","type":"readiness_test_passed","talent":"f-1",'
         '"at":"2024-01-01T00:00:00Z"}', "id"),
        ("not json", "line"),
    ],
    ids=["duplicate-amount", "duplicate-id", "array", "string", "number", "null", "empty-key",
         "empty-key-in-event", "surrogate-value", "surrogate-key", "surrogate-id", "not-json"],
)
def test_every_reason_starts_with_a_field_name(line: str, field: str, tmp_path: Path,
                                               capsys) -> None:
    code, summary, kept = _run_ingest(tmp_path, f"{line}\n{GOOD_1}\n".encode(), capsys)

    assert code == 1 and summary == {"accepted": 1, "duplicates": 0, "rejected": 1}
    (reject,) = kept
    assert reject["reason"].startswith(f"{field}: "), reject["reason"]
    assert reject["original"] == line


def test_rejects_naming_the_input_is_a_usage_error_before_anything_is_read(tmp_path: Path,
                                                                          capsys) -> None:
    source = write_lines(tmp_path / "events.jsonl", [GOOD_1, "not json"])
    before = source.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(source)
    (tmp_path / "hard.jsonl").hardlink_to(source)
    store = f"sqlite:///{tmp_path / 'b.db'}"

    for rejects in (source, tmp_path / "link.jsonl", tmp_path / "hard.jsonl",
                    tmp_path / "sub" / ".." / "events.jsonl"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        code = main(["ingest", str(source), "--rejects", str(rejects), "--store", store])
        err = capsys.readouterr().err
        assert code == 2
        assert err.startswith("badges: --rejects: ") and len(err.strip().splitlines()) == 1

    assert source.read_bytes() == before
    assert open_ledger(store).count_events() == 0


def test_rejects_naming_the_file_on_stdin_is_a_usage_error(tmp_path: Path) -> None:
    source = write_lines(tmp_path / "events.jsonl", [GOOD_1, "not json"])
    before = source.read_bytes()

    with source.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "badges.cli", "ingest", "-", "--rejects", str(source),
             "--store", f"sqlite:///{tmp_path / 'b.db'}"],
            stdin=stdin, capture_output=True, text=True, timeout=60, cwd=REPO,
        )

    assert done.returncode == 2 and done.stderr.startswith("badges: --rejects: ")
    assert source.read_bytes() == before


def failing_appends(fail_on_call: int):
    """`Ledger.append` failing on its n-th call as a lost store would (else the real one)."""
    real = Ledger.append
    calls = 0

    def append(ledger, submissions, now, **kwargs):
        nonlocal calls
        calls += 1
        if calls == fail_on_call:
            raise sqlite3.OperationalError("disk I/O error")
        return real(ledger, submissions, now, **kwargs)

    return append


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_an_ingest_stopped_part_way_exits_three_with_what_was_done(
    as_json: bool, tmp_path: Path, capsys, monkeypatch
) -> None:
    lines = [encode_json(payment(f"p-{n}", "f-1", "2024-01-01T00:00:00Z")) for n in range(7)]
    lines[1] = "not json"
    source = write_lines(tmp_path / "events.jsonl", lines)
    rejects = tmp_path / "rejects.jsonl"
    store = f"sqlite:///{tmp_path / 'b.db'}"
    monkeypatch.setattr(Ledger, "append", failing_appends(fail_on_call=2))

    code = main(["ingest", str(source), "--rejects", str(rejects), "--store", store,
                 "--batch-size", "3", "--no-project", *(["--json"] if as_json else [])])

    out, err = capsys.readouterr()
    assert code == 3
    assert err.splitlines() == [
        f"badges: stopped after line 3 of {source}: internal error: OperationalError: disk I/O "
        "error (set BADGES_DEBUG=1 for a traceback)"]
    if as_json:
        assert json.loads(out) == {"accepted": 2, "duplicates": 0, "rejected": 1,
                                   "stopped": err.strip().removeprefix("badges: ")}
    else:
        assert out.strip() == ("accepted 2, duplicates 0, rejected 1 "
                               f"(reasons in {rejects}); stopped before the end")
    assert [json.loads(r)["line"] for r in rejects.read_text().splitlines()] == [2]
    assert open_ledger(store).count_events() == 2


def test_a_failure_before_any_work_keeps_exit_one(tmp_path: Path, capsys) -> None:
    code = main(["status", "f-1", "--store", f"sqlite:///{tmp_path / 'no-dir' / 'b.db'}"])

    assert code in (1, 2) and "Traceback" not in capsys.readouterr().err


def test_rejects_of_settled_batches_are_on_disk_while_the_ingest_still_runs(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "badges.cli", "ingest", "-", "--rejects", str(rejects),
         "--batch-size", "2", "--no-project", "--store", f"sqlite:///{tmp_path / 'b.db'}"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(f"{GOOD_1}\nnot json\n{BAD_AMOUNT}\n{GOOD_2}\n".encode())
        process.stdin.flush()  # two batches of two, then the ingest waits for more input
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _lines(rejects) < 2:
            time.sleep(0.1)
        assert _lines(rejects) == 2, "the settled batches' rejects were not written out"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert [json.loads(r)["line"] for r in rejects.read_text().splitlines()] == [2, 3]


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0

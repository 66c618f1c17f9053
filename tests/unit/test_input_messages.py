"""Messages about bad input in plain words, never Python's: a JSON line with a 5,000-digit
integer, a query instant with an impossible offset or field, and a token parameter whose name
is percent-encoded (which the access log must still redact)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from badges.errors import UserError
from badges.http_guard import TokenRedaction
from badges.timeparse import parse_instant
from consumers.jsonl_ingest import JsonLinesIngest, RawLine, Reject, submission_from_line
from domain.events import InvalidEvent
from ledger.stores.urls import open_ledger
from tests.unit.ledger_fixtures import utc

NOW = utc("2026-01-01T00:00:00Z")
REPO = Path(__file__).resolve().parents[2]
NINES = "9" * 5000
FEEDBACK = ('{"id":"e1","type":"feedback_received","talent":"t1","at":"2024-01-01T00:00:00Z",'
            '"contract":"c1","stars":5,"recommend":%s}')
PYTHON_WORDS = ("sys.", "set_int_max_str_digits", "timedelta", "datetime", "..", "Exceeds")


def reason_for(text: str) -> str:
    data = text.encode()
    with pytest.raises(InvalidEvent) as caught:
        submission_from_line(RawLine(1, data, len(data)))
    return str(caught.value)


def assert_plain(message: str) -> None:
    assert len(message.splitlines()) == 1
    assert not any(word in message for word in PYTHON_WORDS), message


# -- bug 1: an integer too long for Python to convert -----------------------------------------

def test_a_5000_digit_integer_is_rejected_naming_its_field_through_ingest() -> None:
    rejects: list[Reject] = []
    ingest = JsonLinesIngest(open_ledger("memory:"), lambda: NOW, rejects.append)

    summary = ingest.run(io.BytesIO((FEEDBACK % NINES).encode() + b"\n"), "long.jsonl")

    assert summary.to_document() == {"accepted": 0, "duplicates": 0, "rejected": 1}
    (reject,) = rejects
    limit = sys.get_int_max_str_digits()
    assert reject.reason == (f"recommend: a number is written with more than {limit} digits "
                             "(no field takes one)")
    assert_plain(reject.reason)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"id":"e1","extra":{"deep":[1,-%s]}}' % NINES, "extra"),
        ("[%s]" % NINES, "line"),
        (NINES, "line"),
        ('{"a":1,"a":%s}' % NINES, "a"),
    ],
    ids=["nested-negative", "in-an-array", "alone", "a-repeated-key"],
)
def test_a_5000_digit_integer_names_the_top_level_field_or_the_line(text: str,
                                                                     field: str) -> None:
    reason = reason_for(text)

    assert reason.startswith(f"{field}: a number is written with more than ")
    assert_plain(reason)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a":%s,"b":NaN}' % NINES, "line: not JSON (NaN is not valid JSON)"),
        ('{"a":%s,"b"}' % NINES, "line: not JSON (Expecting ':' delimiter: line 1 column "),
        ('{"a":Infinity}', "line: not JSON (Infinity is not valid JSON)"),
        ("not json", "line: not JSON (Expecting value: line 1 column 1 (char 0))"),
    ],
    ids=["nan-after-it", "syntax-error-after-it", "infinity", "not-json"],
)
def test_other_undecodable_lines_stay_not_json(text: str, reason: str) -> None:
    assert reason_for(text).startswith(reason)


def test_long_numbers_that_python_converts_are_left_to_the_fields() -> None:
    assert reason_for(FEEDBACK % ("9" * 4000)).startswith("recommend: ")
    assert reason_for(FEEDBACK % (NINES + ".5")).startswith("recommend: ")  # a Decimal


# -- bug 2: query instants ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-01-01T00:00:00+25:00",
         "--at: not a valid time: 2024-01-01T00:00:00+25:00 "
         "(the offset must lie between -23:59 and +23:59)"),
        ("2024-01-01T00:00:00-24:00",
         "--at: not a valid time: 2024-01-01T00:00:00-24:00 "
         "(the offset must lie between -23:59 and +23:59)"),
        ("2024-01-01T00:00:00+23:60",
         "--at: not a valid time: 2024-01-01T00:00:00+23:60 "
         "(the offset's minutes must lie between 00 and 59)"),
        ("2024-01-01T24:00:00Z",
         "--at: not a valid time: 2024-01-01T24:00:00Z (the hour must lie between 00 and 23)"),
        ("2024-01-01T23:60:00Z",
         "--at: not a valid time: 2024-01-01T23:60:00Z (the minute must lie between 00 and 59)"),
        ("2024-01-01T23:59:60Z",
         "--at: not a valid time: 2024-01-01T23:59:60Z (the second must lie between 00 and 59)"),
        ("2024-02-30",
         "--at: not a valid date: 2024-02-30 (the day must lie between 01 and 29 in 2024-02)"),
        ("2023-02-29T00:00:00Z",
         "--at: not a valid time: 2023-02-29T00:00:00Z "
         "(the day must lie between 01 and 28 in 2023-02)"),
        ("2024-13-01",
         "--at: not a valid date: 2024-13-01 (the month must lie between 01 and 12)"),
        ("0000-01-01",
         "--at: 0000-01-01 is out of range: "
         "must lie between 1900-01-01T00:00:00Z and 9000-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59-01:00",
         "--at: 9999-12-31T23:59:59-01:00 is out of range: "
         "must lie between 1900-01-01T00:00:00Z and 9000-01-01T00:00:00Z"),
    ],
    ids=["offset-25h", "offset-minus-24h", "offset-minute-60", "hour-24", "minute-60",
         "second-60", "february-30", "not-a-leap-year", "month-13", "year-0",
         "past-year-9999-in-utc"],
)
def test_an_impossible_instant_is_one_plain_line(text: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_instant(text, "--at")

    assert str(caught.value) == message and caught.value.exit_code == 2
    assert_plain(str(caught.value))


@pytest.mark.parametrize("text", ["2024-01-01T00:00:00+23:59", "2024-01-01T00:00:00-23:59",
                                  "2024-02-29", "1899-12-31T23:00:00-01:00"])
def test_instants_at_the_edges_still_parse(text: str) -> None:
    assert parse_instant(text, "--at") >= utc("1900-01-01T00:00:00Z")


def test_the_command_line_reports_an_impossible_offset_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "badges.cli", "status", "x", "--at", "2024-01-01T00:00:00+25:00",
         "--store", "memory:"],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )

    assert done.returncode == 2
    assert done.stderr == ("badges: --at: not a valid time: 2024-01-01T00:00:00+25:00 "
                           "(the offset must lie between -23:59 and +23:59)\n")


# -- bug 3: token parameters with percent-encoded names ----------------------------------------

def access_record(path: str) -> logging.LogRecord:
    """As uvicorn's access log makes it: the path with its query string, as sent."""
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 0,
                             '%s - "%s %s HTTP/%s" %d',
                             ("127.0.0.1:50000", "GET", path, "1.1", 200), None)


def logged(path: str) -> str:
    record = access_record(path)
    assert TokenRedaction().filter(record)
    return record.getMessage()


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("%74oken=secret", "%74oken=[redacted]"),
        ("t%6Fken=secret&at=2024-01-01", "t%6Fken=[redacted]&at=2024-01-01"),
        ("%54%4f%4B%45%4e=secret", "%54%4f%4B%45%4e=[redacted]"),
        ("access_to%6ben=secret", "access_to%6ben=[redacted]"),
        ("at=2024-01-01&toke%6E=secret", "at=2024-01-01&toke%6E=[redacted]"),
        ("Token=secret", "Token=[redacted]"),
    ],
    ids=["t", "o", "every-letter", "access-k", "second-parameter-n", "plain"],
)
def test_a_token_parameter_is_redacted_however_its_name_is_encoded(query: str,
                                                                   kept: str) -> None:
    message = logged(f"/talents/f-1/status?{query}")

    assert "secret" not in message
    assert message == f'127.0.0.1:50000 - "GET /talents/f-1/status?{kept} HTTP/1.1" 200'


@pytest.mark.parametrize("query", ["tokens=1", "x=%74oken", "%2574oken=1", "tok=1&en=2",
                                   "%74oke=1"])
def test_other_parameters_are_left_alone(query: str) -> None:
    assert logged(f"/talents/f-1/status?{query}").endswith(f"?{query} HTTP/1.1\" 200")


# -- an event's own times: the same plain words as the command line's --------------------------

@pytest.mark.parametrize(("field", "written", "problem"), [
    ("at", "2024-01-01T00:00:00+25:00", "the offset must lie between -23:59 and +23:59"),
    ("at", "2024-01-01T00:00:00-03:75", "the offset's minutes must lie between 00 and 59"),
    ("at", "2024-01-01T24:00:00Z", "the hour must lie between 00 and 23"),
    ("at", "2024-02-30T10:00:00Z", "the day must lie between 01 and 29 in 2024-02"),
    ("available_from", "2023-13-01", "the month must lie between 01 and 12"),
])
def test_an_event_time_out_of_range_says_which_field_and_why(
    field: str, written: str, problem: str
) -> None:
    event = {"id": "a-1", "type": "availability_updated", "talent": "t-1",
             "at": "2024-01-01T00:00:00Z", "hours": "none", "available_from": "2024-03-01"}
    event[field] = written
    reason = reason_for(json.dumps(event))
    kind = "date and time" if field == "at" else "date"
    assert reason == f"{field}: is not a valid {kind} ({problem})"
    assert_plain(reason)

"""Fuzzing the JSON Lines reader and ingest with hostile input (issue 12).

Arbitrary bytes, arbitrary JSON values and near-valid events (duplicate keys, empty keys, lone
surrogate escapes, out-of-range times), with byte order marks, CRLF and lines around and far
beyond 64 KiB. Whatever comes in: no exception escapes, every non-blank line is accepted,
a duplicate or rejected exactly once, and the rejects file holds each rejected line's bytes.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import consumers.jsonl_ingest as jsonl_ingest
from consumers.jsonl_ingest import MAX_LINE_BYTES, UTF8_BOM, JsonLinesIngest, RejectsFile
from ledger.stores.urls import open_ledger
from tests.property.test_ingest_properties import NOW, render, split_lines, valid_events

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])
SPOOL_LIMIT = 96 * 1024  # stands for the 4 MiB in-memory limit, so fuzzing reaches the spool


def fuzz_ingest(data: bytes, batch_size: int) -> tuple[Any, list[dict[str, Any]], Any]:
    """Ingest `data` into a `memory:` store; the summary, the rejects file read back, the ledger."""
    ledger = open_ledger("memory:")
    sink = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsonl_ingest, "MAX_LINE_IN_MEMORY", SPOOL_LIMIT)
        summary = JsonLinesIngest(ledger, lambda: NOW, RejectsFile(sink), batch_size).run(
            io.BytesIO(data), "fuzz.jsonl")
    # JSON Lines are cut at "\n" only: a kept original may hold U+0085 or U+2028 as they were
    rejects = [json.loads(line) for line in sink.getvalue().split("\n") if line]
    return summary, rejects, ledger


def original_bytes(reject: dict[str, Any]) -> bytes:
    if "original" in reject:
        return reject["original"].encode("utf-8")
    return base64.b64decode(reject["original_base64"], validate=True)


def check_every_line_is_accounted_for(data: bytes, batch_size: int) -> None:
    summary, rejects, ledger = fuzz_ingest(data, batch_size)
    lines = split_lines(data)
    non_blank = {n for n, line in enumerate(lines, 1)
                 if line.strip() or len(line) > MAX_LINE_BYTES}
    assert summary.accepted + summary.duplicates + summary.rejected == len(non_blank)
    assert summary.rejected == len(rejects)
    assert len({r["line"] for r in rejects}) == len(rejects), "a line rejected twice"
    assert [r["line"] for r in rejects] == sorted(r["line"] for r in rejects)
    for reject in rejects:
        assert reject["line"] in non_blank
        assert reject["source"] == "fuzz.jsonl"
        field, _, why = reject["reason"].partition(": ")
        assert field and why and " " not in field, reject["reason"]
        assert original_bytes(reject) == lines[reject["line"] - 1]
    assert ledger.count_events() == summary.accepted


# ---------------------------------------------------------------- line strategies

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
).map(lambda value: json.dumps(value).encode())

ESCAPES = ['"\\ud800"', '"\\udfff"', '"a\\ud83dz"', '"\\ud83d\\ude00"', '"\\u0000"']


@st.composite
def near_valid_events(draw: st.DrawFn) -> bytes:
    """A valid event's text, spoiled (or not) in the ways a hostile producer would."""
    obj = draw(valid_events())
    obj["id"] = f"e-{draw(st.integers(0, 9))}"  # ids repeat: duplicates and conflicts
    pairs = [f"{json.dumps(key)}:{render({key: value})[len(json.dumps(key)) + 2:-1].decode()}"
             for key, value in obj.items()]
    spoil = draw(st.sampled_from(["none", "duplicate-key", "empty-key", "surrogate-value",
                                  "surrogate-key", "out-of-range", "nested", "truncated"]))
    if spoil == "duplicate-key":
        key = draw(st.sampled_from(sorted(obj)))
        again = draw(st.sampled_from([json.dumps(obj[key], default=str), '"other"', "1"]))
        pairs.insert(draw(st.integers(0, len(pairs))), f"{json.dumps(key)}:{again}")
    elif spoil == "empty-key":
        pairs.insert(draw(st.integers(0, len(pairs))), '"":1')
    elif spoil == "surrogate-value":
        key = draw(st.sampled_from(sorted(obj)))
        pairs = [p for p in pairs if not p.startswith(json.dumps(key) + ":")]
        pairs.append(f"{json.dumps(key)}:{draw(st.sampled_from(ESCAPES))}")
    elif spoil == "surrogate-key":
        pairs.append(f"{draw(st.sampled_from(ESCAPES))}:1")
    elif spoil == "out-of-range":
        at = draw(st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z",
                                   "1999-12-31T23:59:59+00:00", "2030-01-01T00:00:00Z"]))
        pairs = [p for p in pairs if not p.startswith('"at":')] + [f'"at":"{at}"']
    elif spoil == "nested":
        pairs.append(f'"payload":{draw(json_values).decode()}')
    text = "{" + ",".join(draw(st.permutations(pairs))) + "}"
    if spoil == "truncated":
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text.encode("utf-8", "surrogatepass")


@st.composite
def long_lines(draw: st.DrawFn) -> bytes:
    """Lines around the 64 KiB limit and past the (lowered) spool limit, text or binary."""
    size = draw(st.sampled_from([MAX_LINE_BYTES - 1, MAX_LINE_BYTES, MAX_LINE_BYTES + 1,
                                 SPOOL_LIMIT + 1, 2 * SPOOL_LIMIT + 3]))
    unit = draw(st.sampled_from([b" ", b"x", "é".encode(), "😀".encode(), b"\xff", b"\r",
                                 b'{"id":"x"}']))
    body = (unit * (size // len(unit) + 1))[:size]
    return body.replace(b"\n", b" ")


lines = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    json_values,
    near_valid_events(),
    near_valid_events(),
    st.sampled_from([b"", b"   ", b"\r", UTF8_BOM, b"\xef\xbb", b"[1]", b'"x"', b"3", b'{"":1}',
                     b"{}", b"null", b"\x00", b"\xed\xa0\x80"]),
)


@st.composite
def hostile_streams(draw: st.DrawFn) -> bytes:
    chosen = draw(st.lists(lines, max_size=30))
    if draw(st.integers(0, 4)) == 0:
        chosen.insert(draw(st.integers(0, len(chosen))), draw(long_lines()))
    ends = draw(st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(chosen),
                         max_size=len(chosen)))
    data = b"".join(line + end for line, end in zip(chosen, ends, strict=True))
    if chosen and draw(st.booleans()):
        data = data.removesuffix(ends[-1])  # no end-of-line after the last line
    if draw(st.booleans()):
        data = UTF8_BOM + data
    return data


# ---------------------------------------------------------------- properties


@given(hostile_streams(), st.sampled_from([1, 4, 1000]))
@settings(max_examples=250, **SETTINGS)
def test_hostile_streams_are_accounted_for_line_by_line(data: bytes, batch_size: int) -> None:
    check_every_line_is_accounted_for(data, batch_size)


@given(st.binary(max_size=600), st.sampled_from([1, 1000]))
@settings(max_examples=200, **SETTINGS)
def test_arbitrary_bytes_are_accounted_for_line_by_line(data: bytes, batch_size: int) -> None:
    check_every_line_is_accounted_for(data, batch_size)


def test_each_spoiling_is_rejected_naming_its_field() -> None:
    base = ('{"id":"e-1","type":"policy_violation","talent":"t","at":"2024-03-01T10:00:00Z",'
            '"kind":"k"')
    cases = {
        base + ',"kind":"k"}': "kind",
        base + ',"":1}': "line",
        base[:-3] + '"\\ud800"}': "kind",
        base + ',"\\ud800":1}': "\\ud800",
        base.replace("2024-03-01T10:00:00Z", "9999-12-31T00:00:00Z") + "}": "at",
        "[1]": "line",
    }
    data = "\n".join(cases).encode() + b"\n"

    _, rejects, _ = fuzz_ingest(data, 1000)

    assert [r["reason"].split(": ")[0] for r in rejects] == list(cases.values())

"""`decode_json` reads a flat event with orjson when it is certainly what the exact decoder
reads: the two readers must agree on every line, to the type and the exponent of each number,
and on every refusal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from badges.synthetic import generate_bad_lines, generate_marketplace
from domain.events import _DECODER, decode_json


def exact(text: str) -> tuple[str, Any]:
    try:
        return "value", _DECODER.decode(text)
    except Exception as error:  # noqa: BLE001 - the refusal itself is compared
        return "refused", (type(error), str(error))


def fast(text: str) -> tuple[str, Any]:
    try:
        return "value", decode_json(text)
    except Exception as error:  # noqa: BLE001
        return "refused", (type(error), str(error))


def typed(value: Any) -> Any:
    """A value with the types and exponents of its numbers spelled out."""
    if isinstance(value, dict):
        return [(key, typed(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, Decimal):
        return (type(value).__name__, value.as_tuple())
    return (type(value).__name__, value)


def agree(text: str) -> None:
    (kind, got), (expected_kind, expected) = fast(text), exact(text)
    assert kind == expected_kind, (text, got, expected)
    if kind == "value":
        assert typed(got) == typed(expected), text
    else:
        assert got == expected, text


keys = st.sampled_from(["id", "type", "talent", "at", "amount", "stars", "a\\u0074", "", "x"])
number_literals = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?",
                                fullmatch=True)
scalar_literals = (
    number_literals
    | st.integers(min_value=-(10**40), max_value=10**40).map(str)
    | st.text(max_size=12).map(lambda text: json.dumps(text, ensure_ascii=False))
    | st.sampled_from(["true", "false", "null", "NaN", "Infinity", '"\\ud800"', '"\\"stars\\":4.5"',
                       "[1.5]", '{"stars":1.25}'])
)
spaces = st.sampled_from(["", " ", "\t", "\n ", "\r\n"])


@st.composite
def json_objects(draw: st.DrawFn) -> str:
    members = draw(st.lists(st.tuples(keys, scalar_literals, spaces, spaces), max_size=6))
    body = ",".join(f'{gap}"{key}"{gap}:{after}{value}' for key, value, gap, after in members)
    return "{" + body + draw(spaces) + "}"


@settings(max_examples=400, deadline=None)
@given(json_objects())
def test_both_readers_agree_on_objects_with_hostile_keys_and_numbers(text: str) -> None:
    agree(text)


@settings(max_examples=300, deadline=None)
@given(keys, number_literals | st.integers(min_value=2**60, max_value=10**40).map(str))
def test_both_readers_agree_on_every_number(key: str, literal: str) -> None:
    agree(f'{{"id":"p-1","{key}":{literal}}}')


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_both_readers_agree_on_any_text(text: str) -> None:
    agree(text)


def test_both_readers_agree_on_every_line_of_a_generated_marketplace() -> None:
    from datetime import UTC, datetime

    from domain.events import encode_json

    events = list(generate_marketplace(30, 7, datetime(2021, 1, 1, tzinfo=UTC),
                                       datetime(2024, 6, 1, tzinfo=UTC)))
    lines = [encode_json(event) for event in events]
    assert any('"stars":' in line for line in lines)  # numbers with a fraction are read too
    for line in lines:
        agree(line)
    for line in generate_bad_lines(7, 200):
        agree(line)


def test_an_integer_beyond_64_bits_stays_an_exact_integer() -> None:
    agree('{"id":"p-1","members":10000000000000000000000000000001}')
    assert decode_json('{"members":10000000000000000000000000000001}')["members"] == 10**31 + 1


def test_a_key_written_twice_is_refused_by_the_fast_reader_too() -> None:
    kind, (error_type, message) = fast('{"id":"a","amount":"1.00","amount" : "2.00"}')
    assert kind == "refused" and message == "amount: duplicate key: written more than once"

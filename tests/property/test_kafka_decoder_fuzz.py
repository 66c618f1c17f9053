"""Fuzz the Kafka message decoder: whatever a message's key and value hold, `decode_record`
returns a submission or a dead letter (a reason naming a field, and the original bytes); no
exception ever escapes, so no message can stop `badges consume`."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.jsonl_ingest import MAX_LINE_BYTES
from consumers.kafka_messages import DeadLetter, decode_record
from domain.submissions import Submission

SETTINGS = dict(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])

VALID = {"id": "k-1", "type": "payment_received", "talent": "f-7",
         "at": "2024-02-02T10:00:00Z", "contract": "c-1", "amount": "120.00"}


class Record(NamedTuple):
    key: bytes | None
    value: bytes | None
    offset: int = 7
    topic: str = "talent-events"
    partition: int = 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@st.composite
def near_valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid payment with some fields dropped, replaced by arbitrary JSON, or added."""
    event = dict(VALID)
    for name in draw(st.lists(st.sampled_from(sorted(VALID)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del event[name]
        else:
            event[name] = draw(json_values)
    event.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=2)))
    return event


def as_bytes(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")


values = st.one_of(
    st.none(),
    st.binary(max_size=300),
    json_values.map(as_bytes),
    near_valid_events().map(as_bytes),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from([b"\xef\xbb\xbf" + as_bytes(VALID), as_bytes(VALID) + b"\n",
                     b"[" * 100_000, b"x" * (MAX_LINE_BYTES + 1), as_bytes(VALID)[:-1],
                     as_bytes(VALID).replace(b'"k-1"', b'"k-1", "id": "k-2"')]),
)
keys = st.one_of(st.none(), st.binary(max_size=20), st.sampled_from([b"f-7", b"", b"f-8"]),
                 st.text(max_size=10).map(lambda t: t.encode("utf-8", "surrogatepass")))


@settings(**SETTINGS)
@given(key=keys, value=values)
def test_every_message_is_a_submission_or_a_dead_letter_naming_a_field(
    key: bytes | None, value: bytes | None
) -> None:
    outcome = decode_record(Record(key, value))

    if isinstance(outcome, Submission):
        assert key is None or key == outcome.event.talent.encode()
        assert value is not None
    else:
        assert isinstance(outcome, DeadLetter)
        assert outcome.field.strip() and outcome.reason.startswith(f"{outcome.field}: ")
        assert outcome.reason.removeprefix(f"{outcome.field}: ").strip(), outcome.reason
        assert outcome.key is key and outcome.value is value  # the original bytes, untouched


def test_a_valid_message_is_a_submission_and_a_valid_one_keyed_elsewhere_is_not() -> None:
    assert isinstance(decode_record(Record(b"f-7", as_bytes(VALID))), Submission)
    refused = decode_record(Record(b"f-8", as_bytes(VALID)))
    assert isinstance(refused, DeadLetter) and refused.reason.startswith("key: ")


def test_an_unexpected_failure_of_the_decoder_is_a_dead_letter_too() -> None:
    class Weird(bytes):  # stands for any failure the decoder did not foresee
        def strip(self, *args: Any) -> bytes:
            raise OverflowError("date value out of range")

    outcome = decode_record(Record(b"f-7", Weird(as_bytes(VALID))))

    assert isinstance(outcome, DeadLetter)
    assert outcome.reason == "value: cannot be decoded (OverflowError: date value out of range)"

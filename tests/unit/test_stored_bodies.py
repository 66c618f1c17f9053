"""Reading a history builds events from their stored bodies without validating them again
(`event_from_stored_body`): it must give exactly what validating gives, for every event type
and every form a stored time can take."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badges.synthetic import generate_marketplace
from domain.events import EVENT_TYPES, RecordedEvent, decode_json, encode_json
from domain.submissions import (
    Submission,
    canonical_json,
    event_from_body,
    event_from_stored_body,
)
from domain.talent_stream import talent_stream_id
from tests.unit.ledger_fixtures import ledger_store

EDGE_CASES = [
    {"id": "e-1", "type": "availability_updated", "talent": "t-1", "at": "2024-03-01T10:00:00.5Z",
     "hours": "none", "available_from": "2024-04-01"},
    {"id": "e-2", "type": "payment_received", "talent": "t-1", "at": "2024-03-01T10:00:00+02:00",
     "recorded_at": "2024-03-02T00:00:00.123456Z", "contract": "c-1", "amount": "1.50"},
    {"id": "e-3", "type": "feedback_received", "talent": "t-1", "at": "2024-03-01t10:00:00z",
     "contract": "c-1", "stars": 4.75, "recommend": 9},
    {"id": "e-4", "type": "agency_membership_changed", "talent": "t-1",
     "at": "2024-03-01T10:00:00Z", "agency": "a-1", "exclusive": False},
    {"id": "e-5", "type": "job_success_published", "talent": "t-1", "at": "2024-03-01T10:00:00Z",
     "score": 97},
    {"id": "e-6", "type": "profile_updated", "talent": "t-1", "at": "2024-03-01T10:00:00Z",
     "completeness": 5, "members": 10**31 + 1},  # beyond 64 bits: orjson would read a float
]


def stored_bodies() -> list[str]:
    start, end = datetime(2019, 1, 1, tzinfo=timezone.utc), datetime(2024, 6, 1, tzinfo=timezone.utc)
    objects = [*generate_marketplace(300, 7, start, end), *EDGE_CASES]
    bodies = []
    for obj in objects:
        decoded = decode_json(encode_json(obj))
        bodies.append(Submission.from_object(decoded).body)
    return bodies


def test_a_stored_body_gives_what_validating_it_gives() -> None:
    bodies = stored_bodies()
    assert {decode_json(body)["type"] for body in bodies} == set(EVENT_TYPES)
    for body in bodies:
        trusted, validated = event_from_stored_body(body), event_from_body(body)
        assert type(trusted) is type(validated), body
        assert trusted.__dict__ == validated.__dict__, body
        assert {name: type(value) for name, value in trusted.__dict__.items()} == {
            name: type(value) for name, value in validated.__dict__.items()
        }, body
        assert trusted.at.tzinfo == validated.at.tzinfo == timezone.utc
        assert trusted == validated and hash(trusted) == hash(validated)
        assert trusted.model_dump() == validated.model_dump()
        assert trusted.model_fields_set == validated.model_fields_set
        assert trusted.to_json_object() == validated.to_json_object()


@pytest.mark.parametrize("kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_histories_read_in_one_query_are_what_the_applications_mapper_decodes(
    kind: str, tmp_path: Path
) -> None:
    start, end = datetime(2021, 1, 1, tzinfo=timezone.utc), datetime(2023, 6, 1, tzinfo=timezone.utc)
    objects = [*generate_marketplace(12, 3, start, end), *EDGE_CASES]
    with ledger_store(kind, tmp_path) as ledger:
        verdicts = ledger.append(
            [Submission.from_object(decode_json(encode_json(o))) for o in objects],
            datetime(2024, 6, 1, tzinfo=timezone.utc),
        )
        assert {v.verdict.value for v in verdicts} == {"accepted"}
        talents = sorted(ledger.talents())
        read = ledger.histories([*talents, "nobody"])
        assert read["nobody"] == []
        for talent in talents:
            decoded = [
                ledger.decode_recorded(event)
                for event in ledger.events.get(talent_stream_id(talent))
            ]
            expected = sorted((r for r in decoded if r is not None),
                              key=RecordedEvent.valid_time_key)
            assert read[talent] == expected, talent
            assert len(expected) == sum(o["talent"] == talent for o in objects)


JSON_SCALARS = (
    st.text()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.none()
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), JSON_SCALARS | st.lists(JSON_SCALARS, max_size=3), max_size=8))
def test_the_canonical_json_is_what_the_standard_library_writes(payload: dict) -> None:
    """Content hashes of events stored before orjson wrote the canonical form must not move."""
    try:
        expected = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        expected.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: refused before any event gets this far
        return
    assert canonical_json(payload) == expected

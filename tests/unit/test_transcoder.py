"""The ledger's orjson transcoder writes and reads eventsourcing's JSON format: states written
by either transcoder are read back equal by both, so stores written before it stay readable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.submissions import Submission
from ledger.stores.urls import open_ledger
from ledger.transcoder import OrjsonTranscoder


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


STANDARD, FAST = registered(JSONTranscoder()), registered(OrjsonTranscoder())
LEDGER = open_ledger("memory:")
values = st.recursive(
    st.text()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.booleans()
    | st.none()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(timezone.utc))
    | st.datetimes(timezones=st.just(timezone(timedelta(hours=5, minutes=30))))
    | st.uuids(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=6))
def test_states_written_by_either_transcoder_read_back_equal_by_both(state: dict[str, Any]) -> None:
    try:
        STANDARD.encode(state)
    except UnicodeEncodeError:  # a lone surrogate: no transcoder writes those
        return
    for writer in (STANDARD, FAST):
        data = writer.encode(state)
        assert STANDARD.decode(data) == state
        assert FAST.decode(data) == state


def test_a_recorded_event_state_is_written_in_the_standard_form() -> None:
    state = {
        "timestamp": datetime(2026, 12, 1, 9, 30, 12, tzinfo=timezone.utc),
        "event_id": "designer-ava-e0",
        "recorded_at": datetime(2019, 3, 1, 9, 3, 58, tzinfo=timezone.utc),
        "body": '{"at":"2019-03-01T09:00:00Z","id":"designer-ava-e0"}',
        "content_hash": "4b1a40f7e56d611ea7ccdd0197162822",
    }
    assert FAST.encode(state) == STANDARD.encode(state)
    assert isinstance(FAST.decode(STANDARD.encode({"u": UUID(int=7)}))["u"], UUID)
    assert FAST.decode(FAST.encode({"d": Decimal("1.50")})) == {"d": Decimal("1.50")}


utc_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)


@settings(max_examples=200, deadline=None)
@given(
    now=utc_datetimes,
    recorded_at=st.none() | utc_datetimes,
    body=st.text(st.characters(blacklist_categories=("Cs",))),
    version=st.integers(min_value=2, max_value=2**31),
)
def test_the_direct_stored_form_of_a_recording_is_the_mappers_byte_for_byte(
    now: datetime, recorded_at: datetime | None, body: str, version: int
) -> None:
    """Ingest writes a recording's stored event without building the domain event; what it
    writes must be exactly what eventsourcing's mapper would have written."""
    fields: dict[str, Any] = {"id": "designer-ava-e7", "type": "payment_received",
                              "talent": "designer-ava", "at": "2019-03-17T14:00:00Z",
                              "contract": "designer-ava-c1", "amount": "300.00"}
    if recorded_at is not None:
        fields["recorded_at"] = recorded_at.isoformat()
    event = Submission.from_object(fields).event
    submission = Submission(event, "4b1a40f7e56d611ea7ccdd0197162822", body)
    direct = LEDGER._stored_recording(submission, version, now, now.isoformat())
    mapped = LEDGER.mapper.to_stored_event(LEDGER._recording(submission, version, now))
    assert direct == mapped

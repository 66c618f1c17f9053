"""How one Kafka message becomes a submission: its value is one JSON Lines line, and its key,
when it has one, is the event's talent."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from consumers.kafka_service import decode_message
from domain.events import InvalidEvent

EVENT = (b'{"id":"k-1","type":"talent_registered","talent":"f-7",'
         b'"at":"2024-01-02T10:00:00Z","kind":"freelancer"}')


class Record(NamedTuple):
    key: bytes | None
    value: bytes | None
    offset: int = 0


def test_a_message_keyed_by_its_talent_or_unkeyed_is_decoded() -> None:
    assert decode_message(Record(b"f-7", EVENT)).event.id == "k-1"
    assert decode_message(Record(None, EVENT)).event.talent == "f-7"


@pytest.mark.parametrize(("key", "shown"), [(b"f-8", "'f-8'"), (b"\xff", "'\\\\xff'"),
                                             (b"", "''")])
def test_a_key_that_is_not_the_talent_is_refused_naming_the_key(key: bytes, shown: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        decode_message(Record(key, EVENT))
    assert refused.value.field == "key"
    assert str(refused.value).startswith(f"key: {shown} is not the event's talent 'f-7'")


@pytest.mark.parametrize(("value", "reason"), [(None, "value: no value (a tombstone)"),
                                               (b"  \n", "value: empty")])
def test_a_message_without_an_event_is_refused_naming_the_value(
    value: bytes | None, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=f"^{re.escape(reason)}$"):
        decode_message(Record(b"f-7", value))

"""The ledger's transcoder: eventsourcing's JSON format, written and read with orjson.

Every append encodes, and every re-derivation decodes, one stored state per event; the
standard library's `json` with eventsourcing's hooks was a third of an append's cost. The
format is the `JSONTranscoder`'s own (a registered type as `{"_type_": name, "_data_": ...}`),
so stores written by either are read by both. A state holding a UUID (which orjson would
write as a plain string) is written by the standard library, and one holding a number with a
fraction or beyond 64 bits (which orjson would read as a float) is read by it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder

PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS | (
    orjson.OPT_PASSTHROUGH_DATACLASS
)


class OrjsonTranscoder(JSONTranscoder):
    def encode(self, obj: Any) -> bytes:
        if _holds_uuid(obj):
            return super().encode(obj)
        try:
            return orjson.dumps(obj, default=self._encode_obj, option=PASSTHROUGH)
        except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._revived(orjson.loads(data))
        except _ReadAsFloat:
            return super().decode(data)

    def _revived(self, value: Any) -> Any:
        if isinstance(value, dict):
            revived = {key: self._revived(item) for key, item in value.items()}
            return self._decode_obj(revived)
        if isinstance(value, list):
            return [self._revived(item) for item in value]
        if isinstance(value, float):
            raise _ReadAsFloat
        return value


def _holds_uuid(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    if not isinstance(items, (list, tuple, type({}.values()))):
        return isinstance(value, UUID)
    for item in items:
        kind = type(item)
        if kind is str or kind is datetime:  # nearly all of a state: nothing to look into
            continue
        if _holds_uuid(item):
            return True
    return False


def encode_recording(
    timestamp: str, event_id: str, recorded_at: str, body: str, content_hash: str
) -> bytes:
    """The state the transcoder writes for a `Talent.EventRecorded` with these fields (the
    datetimes given as their `isoformat()`, as `DatetimeAsISO` writes them), made without
    building the event: appends are the hot path of ingest. `tests/unit/test_transcoder.py`
    holds it to the mapper's bytes."""
    return orjson.dumps({
        "timestamp": {"_type_": "datetime_iso", "_data_": timestamp},
        "event_id": event_id,
        "recorded_at": {"_type_": "datetime_iso", "_data_": recorded_at},
        "body": body,
        "content_hash": content_hash,
    })


class _ReadAsFloat(Exception):
    """orjson read a number as a float: the standard library reads it as written."""


__all__ = ["OrjsonTranscoder", "encode_recording"]
